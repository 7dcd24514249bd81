//! A parsed rule: its header, its metadata and its detection program.

use std::sync::Arc;

use super::addr::AddrSpec;
use super::ports::PortSpec;

/// The identity of a rule: generator, signature and revision.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct SigId {
    /// Generator id (1 for text rules).
    pub gid: u32,
    /// Signature id.
    pub sid: u32,
    /// Revision.
    pub rev: u32,
}

impl std::fmt::Display for SigId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.gid, self.sid, self.rev)
    }
}

/// What a rule does when it matches. An IDS only reports: every action but `pass`
/// raises an alert (`log` and `pass` raise none); `drop`, `reject` and the like are
/// reported as they would be by Snort reading a capture (as alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `alert`.
    Alert,
    /// `log`: logs the packet, raises no alert.
    Log,
    /// `pass`: matches, raises nothing.
    Pass,
    /// `drop`, `block`, `reject`, `sdrop`, `react`, `rewrite`: alert (the engine does
    /// not block).
    Drop,
}

impl Action {
    /// Parses an action keyword.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "alert" => Action::Alert,
            "log" => Action::Log,
            "pass" => Action::Pass,
            "drop" | "block" | "reject" | "sdrop" | "react" | "rewrite" => Action::Drop,
            _ => return None,
        })
    }

    /// The action name in alert_json's `action` field.
    pub fn json_name(self) -> &'static str {
        match self {
            Action::Alert | Action::Log | Action::Pass => "allow",
            Action::Drop => "would_drop",
        }
    }
}

/// The protocol a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Any IP packet (`ip`, and service rules such as `alert http`).
    Ip,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (and ICMPv6).
    Icmp,
}

/// The header of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The action.
    pub action: Action,
    /// The protocol.
    pub protocol: Protocol,
    /// Source addresses.
    pub src: AddrSpec,
    /// Source ports.
    pub src_ports: PortSpec,
    /// Destination addresses.
    pub dst: AddrSpec,
    /// Destination ports.
    pub dst_ports: PortSpec,
    /// `<>`: the rule also matches with source and destination swapped.
    pub bidirectional: bool,
    /// The service a Snort 3 service rule names instead of a protocol (`alert http`).
    pub service: Option<String>,
}

/// Which side of a flow a rule's packets come from (`flow:to_server` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDirection {
    /// `to_server` / `from_client`.
    ToServer,
    /// `to_client` / `from_server`.
    ToClient,
}

/// Whether a rule looks at packets as captured, reassembled data, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamMode {
    /// Both (the default).
    #[default]
    Any,
    /// `only_stream`: reassembled data only.
    OnlyStream,
    /// `no_stream`: packets as captured only.
    NoStream,
}

/// The `flow` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowOpts {
    /// `to_server` or `to_client`.
    pub direction: Option<FlowDirection>,
    /// `established` (true) or `not_established` (false).
    pub established: Option<bool>,
    /// `stateless`: matches whatever the flow state.
    pub stateless: bool,
    /// `only_stream` / `no_stream`.
    pub stream: StreamMode,
    /// `only_frag` (true) / `no_frag` (false).
    pub fragments: Option<bool>,
}

/// A number in an option, or a `byte_extract` variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A literal.
    Lit(i64),
    /// The variable with this index (in the rule's order of `byte_extract`s).
    Var(u8),
}

/// The data a detection option looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Buffer {
    /// `pkt_data`: the packet payload, or the reassembled data.
    Pkt,
    /// `raw_data`: the payload before normalization (the same bytes here).
    Raw,
    /// `file_data`: the HTTP body (de-chunked) of the current message.
    FileData,
    /// `http_uri`: the normalized request URI.
    HttpUri,
    /// `http_raw_uri`: the request URI as sent.
    HttpRawUri,
    /// `http_header`: the header lines, without the start line and cookies.
    HttpHeader,
    /// `http_header:field NAME`: one header's value (index into the rule set's names).
    HttpHeaderField(u16),
    /// `http_raw_header`: the header lines as sent, with cookies.
    HttpRawHeader,
    /// `http_method`: the request method.
    HttpMethod,
    /// `http_cookie`: the `Cookie` / `Set-Cookie` values.
    HttpCookie,
    /// `http_raw_cookie`: the same, as sent.
    HttpRawCookie,
    /// `http_stat_code`: the three-digit status code.
    HttpStatCode,
    /// `http_stat_msg`: the reason phrase.
    HttpStatMsg,
    /// `http_client_body`: the request body.
    HttpClientBody,
    /// `http_raw_body`: the message body as sent.
    HttpRawBody,
    /// `http_version`: the version of the start line.
    HttpVersion,
    /// `http_raw_request`: the request line as sent.
    HttpRawRequest,
    /// `http_raw_status`: the status line as sent.
    HttpRawStatus,
}

impl Buffer {
    /// Whether the buffer is produced by the HTTP inspector.
    pub fn is_http(self) -> bool {
        !matches!(self, Buffer::Pkt | Buffer::Raw | Buffer::FileData)
    }

    /// The keyword naming the buffer.
    pub fn name(self) -> &'static str {
        match self {
            Buffer::Pkt => "pkt_data",
            Buffer::Raw => "raw_data",
            Buffer::FileData => "file_data",
            Buffer::HttpUri => "http_uri",
            Buffer::HttpRawUri => "http_raw_uri",
            Buffer::HttpHeader => "http_header",
            Buffer::HttpHeaderField(_) => "http_header:field",
            Buffer::HttpRawHeader => "http_raw_header",
            Buffer::HttpMethod => "http_method",
            Buffer::HttpCookie => "http_cookie",
            Buffer::HttpRawCookie => "http_raw_cookie",
            Buffer::HttpStatCode => "http_stat_code",
            Buffer::HttpStatMsg => "http_stat_msg",
            Buffer::HttpClientBody => "http_client_body",
            Buffer::HttpRawBody => "http_raw_body",
            Buffer::HttpVersion => "http_version",
            Buffer::HttpRawRequest => "http_raw_request",
            Buffer::HttpRawStatus => "http_raw_status",
        }
    }
}

/// How a content may serve as the rule's fast pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastPatternHint {
    /// `fast_pattern` was given.
    pub chosen: bool,
    /// `fast_pattern:only` (Snort 2): the content need not be checked again.
    pub only: bool,
    /// `fast_pattern_offset` / `fast_pattern:OFFSET,LENGTH`: the part of the pattern
    /// to use.
    pub slice: Option<(u16, u16)>,
}

/// A `content` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The bytes to find.
    pub pattern: Vec<u8>,
    /// `nocase`.
    pub nocase: bool,
    /// `content:!"..."`.
    pub negated: bool,
    /// `offset`.
    pub offset: Option<Value>,
    /// `depth`.
    pub depth: Option<Value>,
    /// `distance` (relative to the cursor).
    pub distance: Option<Value>,
    /// `within` (relative to the cursor).
    pub within: Option<Value>,
    /// The fast-pattern modifiers.
    pub fast_pattern: FastPatternHint,
}

impl Content {
    /// Whether the match is placed relative to the cursor.
    pub fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// A `pcre` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcre {
    /// The expression (between the slashes).
    pub pattern: String,
    /// Case-insensitive (`i`).
    pub caseless: bool,
    /// Dot matches newlines (`s`).
    pub dotall: bool,
    /// `^` and `$` at line breaks (`m`).
    pub multiline: bool,
    /// Extended syntax (`x`).
    pub extended: bool,
    /// Anchored at the start (`A`).
    pub anchored: bool,
    /// `$` only at the very end (`E`).
    pub dollar_endonly: bool,
    /// Quantifiers lazy by default (`G`).
    pub ungreedy: bool,
    /// Starts at the cursor (`R`).
    pub relative: bool,
    /// `pcre:!"..."`.
    pub negated: bool,
}

/// Byte order of a number read from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endian {
    /// Most significant byte first (the default).
    #[default]
    Big,
    /// Least significant byte first.
    Little,
}

/// How a number stored as text is read (`string,hex|dec|oct`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumBase {
    /// Decimal digits.
    Dec,
    /// Hexadecimal digits.
    Hex,
    /// Octal digits.
    Oct,
}

/// How to read a number from the data: the part the `byte_*` options share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRead {
    /// How many bytes (1-4 binary, up to 10 as text).
    pub bytes: u8,
    /// Where, from the buffer start or (relative) the cursor.
    pub offset: Value,
    /// `relative`.
    pub relative: bool,
    /// Binary byte order.
    pub endian: Endian,
    /// `string`: the bytes are digits in this base.
    pub string: Option<NumBase>,
    /// `bitmask`: AND the value with the mask and shift it down by its trailing zeros.
    pub bitmask: Option<u32>,
}

/// The comparison of `byte_test` and the numeric range options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `=`.
    Eq,
    /// `!=` (or a negated `=`).
    Ne,
    /// `&`: any bit of the value set.
    And,
    /// `^`: XOR is nonzero.
    Xor,
}

/// A `byte_test` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteTest {
    /// What to read.
    pub read: ByteRead,
    /// The comparison.
    pub op: CmpOp,
    /// `!` before the operator.
    pub negated: bool,
    /// The value compared with.
    pub value: Value,
}

/// A `byte_jump` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteJump {
    /// What to read.
    pub read: ByteRead,
    /// `multiplier`.
    pub multiplier: u32,
    /// `align`: round the jump up to 4.
    pub align: bool,
    /// `from_beginning`: jump from the buffer start instead of after the bytes read.
    pub from_beginning: bool,
    /// `from_end`: jump from the buffer end.
    pub from_end: bool,
    /// `post_offset`.
    pub post_offset: Value,
}

/// A `byte_extract` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteExtract {
    /// What to read.
    pub read: ByteRead,
    /// `multiplier`.
    pub multiplier: u32,
    /// `align N`: round the value up to a multiple of 2 or 4.
    pub align: u8,
    /// The variable it stores into.
    pub var: u8,
}

/// A numeric comparison of `dsize`, `itype`, `bufferlen`, ...: `N`, `<N`, `>=N`,
/// `N<>M` (exclusive), `N<=>M` (inclusive), `!N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeCheck {
    /// How to compare.
    pub kind: RangeKind,
    /// The first bound.
    pub a: i64,
    /// The second bound (ranges only).
    pub b: i64,
}

/// The kinds of [`RangeCheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind {
    /// `= a`.
    Eq,
    /// `!= a`.
    Ne,
    /// `< a`.
    Lt,
    /// `<= a`.
    Le,
    /// `> a`.
    Gt,
    /// `>= a`.
    Ge,
    /// `a < x < b`.
    Between,
    /// `a <= x <= b`.
    BetweenInclusive,
}

impl RangeCheck {
    /// Whether `x` satisfies the check.
    #[inline]
    pub fn test(&self, x: i64) -> bool {
        match self.kind {
            RangeKind::Eq => x == self.a,
            RangeKind::Ne => x != self.a,
            RangeKind::Lt => x < self.a,
            RangeKind::Le => x <= self.a,
            RangeKind::Gt => x > self.a,
            RangeKind::Ge => x >= self.a,
            RangeKind::Between => self.a < x && x < self.b,
            RangeKind::BetweenInclusive => self.a <= x && x <= self.b,
        }
    }
}

/// A TCP flags test (`flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagsCheck {
    /// How the listed flags are compared.
    pub mode: FlagsMode,
    /// The listed flags (TCP flag bits).
    pub flags: u16,
    /// Flags ignored in the comparison (after the comma).
    pub mask: u16,
}

/// The modifiers of [`FlagsCheck`] and [`FragbitsCheck`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsMode {
    /// Exactly these (outside the mask).
    Exact,
    /// `+`: at least these.
    All,
    /// `*`: any of these.
    Any,
    /// `!`: not exactly these.
    Not,
}

/// An IP fragment bits test (`fragbits`): M (more fragments), D (don't fragment),
/// R (reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragbitsCheck {
    /// How the bits are compared.
    pub mode: FlagsMode,
    /// The bits: 1 = M, 2 = D, 4 = R.
    pub bits: u8,
}

/// Which direction's byte count `stream_size` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSizeDir {
    /// Bytes the client sent.
    Client,
    /// Bytes the server sent.
    Server,
    /// Both directions must satisfy the comparison.
    Both,
    /// Either direction may.
    Either,
}

/// A test on the packet's headers or the flow, independent of any data buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketCheck {
    /// `dsize`: payload length.
    Dsize(RangeCheck),
    /// `itype`: ICMP type.
    Itype(RangeCheck),
    /// `icode`: ICMP code.
    Icode(RangeCheck),
    /// `icmp_id`: ICMP echo identifier.
    IcmpId(u16),
    /// `icmp_seq`: ICMP echo sequence number.
    IcmpSeq(u16),
    /// `ttl`: IPv4 TTL or IPv6 hop limit.
    Ttl(RangeCheck),
    /// `tos`: IPv4 type of service.
    Tos(RangeCheck),
    /// `id`: IPv4 identification.
    IpId(u16),
    /// `ip_proto`: the IP protocol number.
    IpProto(RangeCheck),
    /// `flags`: TCP flags.
    Flags(FlagsCheck),
    /// `fragbits`: IP fragment bits.
    Fragbits(FragbitsCheck),
    /// `fragoffset`: IP fragment offset, in bytes.
    Fragoffset(RangeCheck),
    /// `seq`: TCP sequence number.
    Seq(u32),
    /// `ack`: TCP acknowledgment number.
    Ack(u32),
    /// `window`: TCP window.
    Window(RangeCheck),
    /// `sameip`: source equals destination.
    SameIp,
    /// `stream_size`: bytes a TCP flow carried so far.
    StreamSize(StreamSizeDir, RangeCheck),
}

/// One detection step that works on data buffers, in rule order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Switches to a buffer and puts the cursor at its start.
    Buffer(Buffer),
    /// `content`.
    Content(Content),
    /// `pcre`.
    Pcre(Pcre),
    /// `byte_test`.
    ByteTest(ByteTest),
    /// `byte_jump`.
    ByteJump(ByteJump),
    /// `byte_extract`.
    ByteExtract(ByteExtract),
    /// `isdataat`.
    IsDataAt {
        /// The position tested.
        at: Value,
        /// From the cursor.
        relative: bool,
        /// `!`: there must be no data there.
        negated: bool,
    },
    /// `bufferlen` / `urilen`.
    BufferLen {
        /// The length test.
        check: RangeCheck,
        /// Measures from the cursor.
        relative: bool,
    },
}

/// A flowbits test (`isset`, `isnotset`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowbitTest {
    /// `isset` (true) or `isnotset` (false).
    pub set: bool,
    /// The bits (indexes in the rule set's bit table).
    pub bits: Vec<u16>,
    /// `a&b`: every bit; `a|b` or one bit: any bit.
    pub all: bool,
}

/// What a matching rule does to the flow's bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowbitAction {
    /// `set`.
    Set(Vec<u16>),
    /// `unset`.
    Unset(Vec<u16>),
    /// `toggle`.
    Toggle(Vec<u16>),
    /// `reset`: clears every bit.
    Reset,
}

/// Whose traffic a rate counter follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// By source address.
    BySrc,
    /// By destination address.
    ByDst,
    /// One counter for the rule (`by_rule`, event filters only).
    ByRule,
}

/// `detection_filter`: the rule matches only after `count` matches in `seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionFilter {
    /// Whose matches are counted.
    pub track: Track,
    /// Matches allowed before the rule fires.
    pub count: u32,
    /// The window.
    pub seconds: u32,
}

/// The kinds of event filter (Snort 2's `threshold` option, Snort 3's `event_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilterKind {
    /// Log the first `count` events of each window.
    Limit,
    /// Log every `count`-th event.
    Threshold,
    /// Log once per window, after `count` events.
    Both,
}

/// An event filter: which of a rule's events are logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFilter {
    /// The kind.
    pub kind: EventFilterKind,
    /// Whose events are counted.
    pub track: Track,
    /// The count.
    pub count: u32,
    /// The window.
    pub seconds: u32,
}

/// Where a rule was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file (as given to the loader).
    pub file: Arc<str>,
    /// The 1-based line the rule starts on.
    pub line: u32,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A rule, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// gid:sid:rev.
    pub sig: SigId,
    /// The header.
    pub header: Header,
    /// `msg`.
    pub msg: String,
    /// `classtype`, if given.
    pub classtype: Option<String>,
    /// `priority`, or the classtype's, or 0.
    pub priority: u32,
    /// `service` names, plus those its buffers imply (`http_*` implies http).
    pub services: Vec<String>,
    /// `flow`.
    pub flow: FlowOpts,
    /// Header and flow tests.
    pub checks: Vec<PacketCheck>,
    /// Data tests, in order.
    pub program: Vec<Op>,
    /// `flowbits` tests.
    pub flowbit_tests: Vec<FlowbitTest>,
    /// `flowbits` changes applied when the rule matches.
    pub flowbit_actions: Vec<FlowbitAction>,
    /// `flowbits:noalert`.
    pub noalert: bool,
    /// `detection_filter`.
    pub detection_filter: Option<DetectionFilter>,
    /// Snort 2's `threshold` option, if present.
    pub threshold: Option<EventFilter>,
    /// Keywords the engine does not honour, with how the rule was affected.
    pub skipped: Vec<Skipped>,
    /// Where the rule was read from.
    pub location: Location,
}

impl Rule {
    /// Whether the rule names a service in its header (`alert http`): it applies only
    /// to flows identified as that service, never by its ports.
    pub fn service_only(&self) -> bool {
        self.header.service.is_some()
    }
}

/// How a rule was affected by a keyword the engine does not honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipEffect {
    /// The keyword does not change which packets alert (`tag`, `replace` in IDS
    /// mode): the rule loads without it.
    Ignored,
    /// The keyword constrains detection: without it the rule would alert on more
    /// than it should. The load policy decides whether the rule loads.
    Constraint,
}

/// A keyword the engine does not honour, found in a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The keyword (`ber_data`, `dce_iface`, `pcre flag E`, ...).
    pub keyword: String,
    /// What skipping it does.
    pub effect: SkipEffect,
}
