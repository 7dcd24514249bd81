//! Turning a rule's options into a [`Rule`]: Snort 3 syntax (sticky buffers, content
//! modifiers after commas) and Snort 2.9 syntax (modifiers as separate options,
//! `http_*` modifiers after the content they apply to, pcre buffer flags,
//! `uricontent`, `threshold`).

use super::ParseError;
use super::classify;
use super::content;
use super::lexer::{RawOption, comma_list, quoted_prefix, unescape, unquote};
use super::numbers::{int, int_in, range, u32_of};
use super::rule::*;
use super::symbols::Symbols;

/// The rule syntax a rule is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Snort 2.9: `content:"x"; nocase; http_uri;`.
    Snort2,
    /// Snort 3: `http_uri; content:"x",nocase;`.
    Snort3,
}

/// Keywords the engine knows but does not honour, and whether they constrain
/// detection (dropped by policy) or not (ignored).
fn unsupported(name: &str) -> Option<SkipEffect> {
    const IGNORED: &[&str] = &[
        "tag",
        "replace",
        "logto",
        "session",
        "resp",
        "react",
        "activates",
        "activated_by",
        "count",
        "rem",
        "sd",
    ];
    const CONSTRAINT: &[&str] = &[
        "base64_decode",
        "base64_data",
        "byte_math",
        "protected_content",
        "asn1",
        "ftpbounce",
        "cvs",
        "ber_data",
        "ber_skip",
        "dce_iface",
        "dce_opnum",
        "dce_stub_data",
        "ssl_state",
        "ssl_version",
        "js_data",
        "vba_data",
        "http_param",
        "http_true_ip",
        "http_trailer",
        "http_raw_trailer",
        "http_header_test",
        "http_trailer_test",
        "http_num_headers",
        "http_num_trailers",
        "http_max_header_line",
        "http_max_trailer_line",
        "http_num_cookies",
        "http_version_match",
        "http2_frame_header",
        "script_data",
        "sd_pattern",
        "file_type",
        "file_meta",
        "rpc",
        "icmp_code_v6",
        "sip_method",
        "sip_stat_code",
        "sip_header",
        "sip_body",
        "gtp_type",
        "gtp_info",
        "gtp_version",
        "modbus_func",
        "modbus_unit",
        "modbus_data",
        "dnp3_func",
        "dnp3_obj",
        "dnp3_ind",
        "dnp3_data",
        "cip_attribute",
        "cip_class",
        "cip_conn_path_class",
        "cip_instance",
        "cip_req",
        "cip_rsp",
        "cip_service",
        "cip_status",
        "enip_command",
        "enip_req",
        "enip_rsp",
        "iec104_apci_type",
        "iec104_asdu_func",
        "s7commplus_content",
        "s7commplus_func",
        "s7commplus_opcode",
        "mms_data",
        "mms_func",
        "ipopts",
        "ip6_proto",
        "pkt_num",
        "so",
        "regex",
        "ssl_heartbleed",
        "stream_reassemble",
        "file_data_ext",
    ];
    if IGNORED.contains(&name) {
        Some(SkipEffect::Ignored)
    } else if CONSTRAINT.contains(&name) {
        Some(SkipEffect::Constraint)
    } else {
        None
    }
}

/// The buffer keywords, as sticky buffers (Snort 3) or content modifiers (Snort 2).
fn buffer_keyword(name: &str) -> Option<Buffer> {
    Some(match name {
        "pkt_data" => Buffer::Pkt,
        "raw_data" => Buffer::Raw,
        "file_data" => Buffer::FileData,
        "http_uri" => Buffer::HttpUri,
        "http_raw_uri" => Buffer::HttpRawUri,
        "http_header" => Buffer::HttpHeader,
        "http_raw_header" => Buffer::HttpRawHeader,
        "http_method" => Buffer::HttpMethod,
        "http_cookie" => Buffer::HttpCookie,
        "http_raw_cookie" => Buffer::HttpRawCookie,
        "http_stat_code" => Buffer::HttpStatCode,
        "http_stat_msg" => Buffer::HttpStatMsg,
        "http_client_body" => Buffer::HttpClientBody,
        "http_raw_body" => Buffer::HttpRawBody,
        "http_version" => Buffer::HttpVersion,
        "http_raw_request" => Buffer::HttpRawRequest,
        "http_raw_status" => Buffer::HttpRawStatus,
        _ => return None,
    })
}

/// Snort 2 keywords that can only be content modifiers.
const SNORT2_MODIFIERS: &[&str] = &[
    "nocase",
    "rawbytes",
    "depth",
    "offset",
    "distance",
    "within",
    "fast_pattern",
];

/// Decides a rule's dialect from what it contains, or `None` when it reads the same
/// both ways (then the file's dialect decides).
pub fn detect_dialect(options: &[RawOption<'_>]) -> Option<Dialect> {
    let mut seen_content = false;
    let mut last_detection: Option<&str> = None;
    for o in options {
        let name = o.name.to_ascii_lowercase();
        match name.as_str() {
            "content" | "uricontent" => {
                if let Some(v) = o.value
                    && let Some((_, rest)) = quoted_prefix(v.trim_start_matches('!'))
                    && rest.trim_start().starts_with(',')
                {
                    return Some(Dialect::Snort3);
                }
                if name == "uricontent" {
                    return Some(Dialect::Snort2);
                }
                seen_content = true;
                last_detection = Some("content");
            }
            "threshold" => return Some(Dialect::Snort2),
            n if SNORT2_MODIFIERS.contains(&n) => return Some(Dialect::Snort2),
            n if buffer_keyword(n).is_some_and(|b| b.is_http()) => {
                if !seen_content {
                    return Some(Dialect::Snort3);
                }
                last_detection = Some("http");
            }
            "pcre" | "byte_test" | "byte_jump" | "byte_extract" | "isdataat" => {
                last_detection = Some("other");
            }
            _ => {}
        }
    }
    // An http buffer keyword as the last detection option can only modify a content.
    (last_detection == Some("http")).then_some(Dialect::Snort2)
}

/// A handler for the modifiers only one `byte_*` option has: gets the modifier and
/// its argument, returns whether it knew it.
type ModifierFn<'a> = dyn FnMut(&str, Option<&str>) -> Result<bool, ParseError> + 'a;

/// A data option collected before the program is built, with its buffer.
struct Pending {
    buffer: Buffer,
    /// A buffer keyword stood right before it (Snort 3): reset the cursor.
    reset: bool,
    op: Op,
}

/// Builds one rule from its parsed header and raw options.
pub(crate) struct RuleBuilder<'s> {
    symbols: &'s mut Symbols,
    dialect: Dialect,
    sig: SigId,
    sid_seen: bool,
    msg: String,
    classtype: Option<String>,
    priority: Option<u32>,
    services: Vec<String>,
    flow: FlowOpts,
    checks: Vec<PacketCheck>,
    pending: Vec<Pending>,
    sticky: Buffer,
    reset_next: bool,
    last_content: Option<usize>,
    vars: Vec<String>,
    flowbit_tests: Vec<FlowbitTest>,
    flowbit_actions: Vec<FlowbitAction>,
    noalert: bool,
    detection_filter: Option<DetectionFilter>,
    threshold: Option<EventFilter>,
    skipped: Vec<Skipped>,
}

impl<'s> RuleBuilder<'s> {
    pub(crate) fn new(symbols: &'s mut Symbols, dialect: Dialect) -> Self {
        RuleBuilder {
            symbols,
            dialect,
            sig: SigId {
                gid: 1,
                sid: 0,
                rev: 1,
            },
            sid_seen: false,
            msg: String::new(),
            classtype: None,
            priority: None,
            services: Vec::new(),
            flow: FlowOpts::default(),
            checks: Vec::new(),
            pending: Vec::new(),
            sticky: Buffer::Pkt,
            reset_next: false,
            last_content: None,
            vars: Vec::new(),
            flowbit_tests: Vec::new(),
            flowbit_actions: Vec::new(),
            noalert: false,
            detection_filter: None,
            threshold: None,
            skipped: Vec::new(),
        }
    }

    /// The sid, once an option gave it (for error messages).
    pub(crate) fn sid(&self) -> Option<u32> {
        self.sid_seen.then_some(self.sig.sid)
    }

    fn skip(&mut self, keyword: impl Into<String>, effect: SkipEffect) {
        let keyword = keyword.into();
        if !self.skipped.iter().any(|s| s.keyword == keyword) {
            self.skipped.push(Skipped { keyword, effect });
        }
    }

    /// Applies one option.
    pub(crate) fn option(&mut self, o: &RawOption<'_>) -> Result<(), ParseError> {
        let name = o.name.to_ascii_lowercase();
        let value = o.value.unwrap_or("");
        let need = |what: &str| -> Result<&str, ParseError> {
            o.value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ParseError::new(format!("{what} needs a value")))
        };
        match name.as_str() {
            "msg" => self.msg = unescape(unquote(need("msg")?)),
            "sid" => {
                self.sig.sid = u32_of(need("sid")?, "sid")?;
                self.sid_seen = true;
            }
            "gid" => self.sig.gid = u32_of(need("gid")?, "gid")?,
            "rev" => self.sig.rev = u32_of(need("rev")?, "rev")?,
            "classtype" => self.classtype = Some(need("classtype")?.trim().to_string()),
            "priority" => self.priority = Some(u32_of(need("priority")?, "priority")?),
            "reference" | "target" | "soid" => {}
            "metadata" => self.metadata(value),
            "service" => {
                for s in comma_list(need("service")?) {
                    self.add_service(s);
                }
            }
            "flow" => self.flow(need("flow")?)?,
            "flowbits" => self.flowbits(need("flowbits")?)?,
            "content" => self.content(need("content")?, None)?,
            "uricontent" => self.content(need("uricontent")?, Some(Buffer::HttpUri))?,
            "pcre" => self.pcre(need("pcre")?)?,
            "byte_test" => self.byte_test(need("byte_test")?)?,
            "byte_jump" => self.byte_jump(need("byte_jump")?)?,
            "byte_extract" => self.byte_extract(need("byte_extract")?)?,
            "isdataat" => self.isdataat(need("isdataat")?)?,
            "bufferlen" => self.bufferlen(need("bufferlen")?)?,
            "urilen" => self.urilen(need("urilen")?)?,
            "dsize" => self.checks.push(PacketCheck::Dsize(range(need("dsize")?)?)),
            "itype" => self.checks.push(PacketCheck::Itype(range(need("itype")?)?)),
            "icode" => self.checks.push(PacketCheck::Icode(range(need("icode")?)?)),
            "icmp_id" => {
                self.checks.push(PacketCheck::IcmpId(
                    int_in(need("icmp_id")?, 0, 65535, "icmp_id")? as u16,
                ))
            }
            "icmp_seq" => self.checks.push(PacketCheck::IcmpSeq(int_in(
                need("icmp_seq")?,
                0,
                65535,
                "icmp_seq",
            )? as u16)),
            "ttl" => self.checks.push(PacketCheck::Ttl(range(need("ttl")?)?)),
            "tos" => self.checks.push(PacketCheck::Tos(range(need("tos")?)?)),
            "id" => self.checks.push(PacketCheck::IpId(
                int_in(need("id")?, 0, 65535, "id")? as u16
            )),
            "ip_proto" => self.ip_proto(need("ip_proto")?)?,
            "flags" => self.flags(need("flags")?)?,
            "fragbits" => self.fragbits(need("fragbits")?)?,
            "fragoffset" => self
                .checks
                .push(PacketCheck::Fragoffset(range(need("fragoffset")?)?)),
            "seq" => self
                .checks
                .push(PacketCheck::Seq(u32_of(need("seq")?, "seq")?)),
            "ack" => self
                .checks
                .push(PacketCheck::Ack(u32_of(need("ack")?, "ack")?)),
            "window" => self
                .checks
                .push(PacketCheck::Window(range(need("window")?)?)),
            "sameip" => self.checks.push(PacketCheck::SameIp),
            "stream_size" => self.stream_size(need("stream_size")?)?,
            "detection_filter" => {
                self.detection_filter = Some(self.detection_filter_opt(need("detection_filter")?)?)
            }
            "threshold" => self.threshold = Some(event_filter(need("threshold")?)?),
            "http_header" if self.dialect == Dialect::Snort3 && o.value.is_some() => {
                self.header_field(value)?
            }
            n if SNORT2_MODIFIERS.contains(&n) => self.modifier(n, o.value)?,
            n => {
                if let Some(buffer) = buffer_keyword(n) {
                    self.buffer_keyword(n, buffer, o.value)?;
                } else if let Some(effect) = unsupported(n) {
                    self.skip(n, effect);
                    if n == "base64_data" {
                        // Following options look at decoded data the engine lacks.
                        self.sticky = Buffer::Pkt;
                    }
                } else {
                    return Err(ParseError::new(format!("unknown rule option {n:?}")));
                }
            }
        }
        Ok(())
    }

    fn metadata(&mut self, value: &str) {
        // Snort 2 names services in metadata: `metadata:service http;`.
        for item in comma_list(value) {
            let mut words = item.split_whitespace();
            if words.next() == Some("service")
                && let Some(s) = words.next()
            {
                self.add_service(s);
            }
        }
    }

    fn add_service(&mut self, name: &str) {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && !self.services.contains(&name) {
            self.services.push(name);
        }
    }

    fn flow(&mut self, value: &str) -> Result<(), ParseError> {
        for item in comma_list(value) {
            match item.to_ascii_lowercase().as_str() {
                "to_server" | "from_client" => self.flow.direction = Some(FlowDirection::ToServer),
                "to_client" | "from_server" => self.flow.direction = Some(FlowDirection::ToClient),
                "established" => self.flow.established = Some(true),
                "not_established" => self.flow.established = Some(false),
                "stateless" => self.flow.stateless = true,
                "only_stream" => self.flow.stream = StreamMode::OnlyStream,
                "no_stream" => self.flow.stream = StreamMode::NoStream,
                "only_frag" => self.flow.fragments = Some(true),
                "no_frag" => self.flow.fragments = Some(false),
                other => {
                    return Err(ParseError::new(format!("unknown flow option {other:?}")));
                }
            }
        }
        Ok(())
    }

    fn flowbits(&mut self, value: &str) -> Result<(), ParseError> {
        let items = comma_list(value);
        let op = items
            .first()
            .ok_or_else(|| ParseError::new("flowbits needs an operation"))?
            .to_ascii_lowercase();
        let names = items.get(1).copied();
        let bits = |symbols: &mut Symbols, all: &mut bool| -> Result<Vec<u16>, ParseError> {
            let names =
                names.ok_or_else(|| ParseError::new(format!("flowbits:{op} needs a bit name")))?;
            let parts: Vec<&str> = if names.contains('|') {
                names.split('|').collect()
            } else {
                *all = names.contains('&');
                names.split('&').collect()
            };
            parts
                .into_iter()
                .map(|n| symbols.flowbit(n.trim()))
                .collect()
        };
        let mut all = false;
        match op.as_str() {
            "noalert" => self.noalert = true,
            "set" | "setx" => {
                let b = bits(self.symbols, &mut all)?;
                self.flowbit_actions.push(FlowbitAction::Set(b));
            }
            "unset" => {
                let b = bits(self.symbols, &mut all)?;
                self.flowbit_actions.push(FlowbitAction::Unset(b));
            }
            "toggle" => {
                let b = bits(self.symbols, &mut all)?;
                self.flowbit_actions.push(FlowbitAction::Toggle(b));
            }
            "reset" => self.flowbit_actions.push(FlowbitAction::Reset),
            "isset" | "isnotset" => {
                let b = bits(self.symbols, &mut all)?;
                self.flowbit_tests.push(FlowbitTest {
                    set: op == "isset",
                    bits: b,
                    all,
                });
            }
            other => {
                return Err(ParseError::new(format!(
                    "unknown flowbits operation {other:?}"
                )));
            }
        }
        Ok(())
    }

    /// The buffer a new data option goes to.
    fn current_buffer(&self) -> Buffer {
        match self.dialect {
            Dialect::Snort3 => self.sticky,
            // Snort 2: after a content, options act on that content's buffer.
            Dialect::Snort2 => self.pending.last().map(|p| p.buffer).unwrap_or(self.sticky),
        }
    }

    fn push_op(&mut self, buffer: Buffer, op: Op) {
        let reset = std::mem::take(&mut self.reset_next);
        self.pending.push(Pending { buffer, reset, op });
    }

    fn content(&mut self, value: &str, forced: Option<Buffer>) -> Result<(), ParseError> {
        let (negated, rest) = match value.trim_start().strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, value),
        };
        let (text, tail) = quoted_prefix(rest)
            .ok_or_else(|| ParseError::new(format!("content {value:?} is not quoted")))?;
        let pattern = content::decode(text)?;
        if pattern.is_empty() {
            return Err(ParseError::new("empty content"));
        }
        let buffer = match (forced, self.dialect) {
            (Some(b), _) => b,
            (None, Dialect::Snort3) => self.sticky,
            (None, Dialect::Snort2) => self.sticky,
        };
        self.push_op(
            buffer,
            Op::Content(Content {
                pattern,
                nocase: false,
                negated,
                offset: None,
                depth: None,
                distance: None,
                within: None,
                fast_pattern: FastPatternHint::default(),
            }),
        );
        self.last_content = Some(self.pending.len() - 1);
        let tail = tail.trim();
        if !tail.is_empty() {
            let mods = tail.strip_prefix(',').ok_or_else(|| {
                ParseError::new(format!("unexpected text after content: {tail:?}"))
            })?;
            for m in comma_list(mods) {
                let (key, arg) = match m.split_once(char::is_whitespace) {
                    Some((k, a)) => (k.trim(), Some(a.trim())),
                    None => (m, None),
                };
                self.content_modifier(&key.to_ascii_lowercase(), arg)?;
            }
        }
        Ok(())
    }

    /// A value that may name a `byte_extract` variable.
    fn value(&self, text: &str, what: &str) -> Result<Value, ParseError> {
        let t = text.trim();
        if let Some(i) = self.vars.iter().position(|v| v == t) {
            return Ok(Value::Var(i as u8));
        }
        let v = int(t).map_err(|_| {
            ParseError::new(format!("{what} {t:?} is neither a number nor a variable"))
        })?;
        if v.abs() > 65535 {
            return Err(ParseError::new(format!("{what} {v} is out of range")));
        }
        Ok(Value::Lit(v))
    }

    fn last_content_mut(&mut self, modifier: &str) -> Result<&mut Content, ParseError> {
        let index = self
            .last_content
            .ok_or_else(|| ParseError::new(format!("{modifier} without a content before it")))?;
        match self.pending.get_mut(index).map(|p| &mut p.op) {
            Some(Op::Content(c)) => Ok(c),
            _ => Err(ParseError::new(format!(
                "{modifier} without a content before it"
            ))),
        }
    }

    /// A modifier of the last content (Snort 3 after a comma, Snort 2 as an option).
    fn content_modifier(&mut self, key: &str, arg: Option<&str>) -> Result<(), ParseError> {
        let numeric = matches!(
            key,
            "offset"
                | "depth"
                | "distance"
                | "within"
                | "fast_pattern_offset"
                | "fast_pattern_length"
        );
        let value = match arg {
            Some(a) if numeric && !a.is_empty() => Some(self.value(a, key)?),
            _ => None,
        };
        let need =
            |v: Option<Value>| v.ok_or_else(|| ParseError::new(format!("{key} needs a value")));
        match key {
            "nocase" => self.last_content_mut(key)?.nocase = true,
            "rawbytes" => {
                let index = self.last_content.unwrap_or(usize::MAX);
                if let Some(p) = self.pending.get_mut(index) {
                    p.buffer = Buffer::Raw;
                }
            }
            "offset" => {
                let v = need(value)?;
                self.last_content_mut(key)?.offset = Some(v);
            }
            "depth" => {
                let v = need(value)?;
                let c = self.last_content_mut(key)?;
                if let Value::Lit(d) = v
                    && (d < 1 || (d as usize) < c.pattern.len())
                {
                    return Err(ParseError::new(format!(
                        "depth {d} is shorter than the content ({} bytes)",
                        c.pattern.len()
                    )));
                }
                c.depth = Some(v);
            }
            "distance" => {
                let v = need(value)?;
                self.last_content_mut(key)?.distance = Some(v);
            }
            "within" => {
                let v = need(value)?;
                let c = self.last_content_mut(key)?;
                if let Value::Lit(w) = v
                    && (w < 1 || (w as usize) < c.pattern.len())
                {
                    return Err(ParseError::new(format!(
                        "within {w} is shorter than the content ({} bytes)",
                        c.pattern.len()
                    )));
                }
                c.within = Some(v);
            }
            "fast_pattern" => {
                let c = self.last_content_mut(key)?;
                c.fast_pattern.chosen = true;
                match arg.map(str::trim) {
                    None | Some("") => {}
                    Some("only") => c.fast_pattern.only = true,
                    Some(a) => {
                        let (off, len) = a.split_once(',').ok_or_else(|| {
                            ParseError::new(format!("bad fast_pattern argument {a:?}"))
                        })?;
                        let off = int_in(off, 0, 65535, "fast_pattern offset")? as u16;
                        let len = int_in(len, 1, 65535, "fast_pattern length")? as u16;
                        c.fast_pattern.slice = Some((off, len));
                    }
                }
            }
            "fast_pattern_offset" => {
                let Some(Value::Lit(off)) = value else {
                    return Err(ParseError::new("fast_pattern_offset needs a number"));
                };
                let c = self.last_content_mut(key)?;
                let len = c.fast_pattern.slice.map(|s| s.1).unwrap_or(u16::MAX);
                c.fast_pattern.slice = Some((off.clamp(0, 65535) as u16, len));
            }
            "fast_pattern_length" => {
                let Some(Value::Lit(len)) = value else {
                    return Err(ParseError::new("fast_pattern_length needs a number"));
                };
                let c = self.last_content_mut(key)?;
                let off = c.fast_pattern.slice.map(|s| s.0).unwrap_or(0);
                c.fast_pattern.slice = Some((off, len.clamp(1, 65535) as u16));
            }
            other => {
                return Err(ParseError::new(format!(
                    "unknown content modifier {other:?}"
                )));
            }
        }
        // Contents may not mix absolute and relative placement.
        let c = self.last_content_mut(key)?;
        if (c.offset.is_some() || c.depth.is_some()) && c.is_relative() {
            return Err(ParseError::new(
                "a content cannot have both offset/depth and distance/within",
            ));
        }
        Ok(())
    }

    /// A Snort 2 standalone modifier (`nocase;`, `depth:4;`, `fast_pattern:only;`).
    fn modifier(&mut self, name: &str, value: Option<&str>) -> Result<(), ParseError> {
        self.content_modifier(name, value)
    }

    fn buffer_keyword(
        &mut self,
        name: &str,
        buffer: Buffer,
        value: Option<&str>,
    ) -> Result<(), ParseError> {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            // Buffer options with arguments (http_uri:path, http_header:request...) name
            // parts the engine does not split out.
            self.skip(format!("{name}:{}", v.trim()), SkipEffect::Constraint);
        }
        let sticky = matches!(buffer, Buffer::Pkt | Buffer::Raw | Buffer::FileData);
        match self.dialect {
            Dialect::Snort3 => {
                self.sticky = buffer;
                self.reset_next = true;
            }
            Dialect::Snort2 if sticky => {
                self.sticky = buffer;
                self.reset_next = true;
            }
            Dialect::Snort2 => {
                let index = self.last_content.ok_or_else(|| {
                    ParseError::new(format!("{name} without a content before it"))
                })?;
                if let Some(p) = self.pending.get_mut(index) {
                    p.buffer = buffer;
                }
            }
        }
        if buffer.is_http() {
            self.add_service("http");
        }
        Ok(())
    }

    fn header_field(&mut self, value: &str) -> Result<(), ParseError> {
        let words: Vec<&str> = value.split_whitespace().collect();
        match words.as_slice() {
            ["field", name] => {
                let id = self.symbols.header_field(name)?;
                self.sticky = Buffer::HttpHeaderField(id);
                self.reset_next = true;
                self.add_service("http");
                Ok(())
            }
            _ => self.buffer_keyword("http_header", Buffer::HttpHeader, Some(value)),
        }
    }

    fn pcre(&mut self, value: &str) -> Result<(), ParseError> {
        let (negated, rest) = match value.trim_start().strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, value),
        };
        // The expression runs from the first quote to the last: a pcre may hold a bare
        // quote.
        let text = rest
            .trim()
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(|| ParseError::new(format!("pcre {value:?} is not quoted")))?;
        let body = text
            .strip_prefix('m')
            .filter(|b| b.starts_with('/'))
            .unwrap_or(text);
        let body = body
            .strip_prefix('/')
            .ok_or_else(|| ParseError::new(format!("pcre {text:?} does not start with '/'")))?;
        let end = body
            .rfind('/')
            .ok_or_else(|| ParseError::new(format!("pcre {text:?} has no closing '/'")))?;
        let (pattern, flags) = (&body[..end], &body[end + 1..]);
        let mut p = Pcre {
            pattern: pattern.to_string(),
            caseless: false,
            dotall: false,
            multiline: false,
            extended: false,
            anchored: false,
            dollar_endonly: false,
            ungreedy: false,
            relative: false,
            negated,
            // (buffer chosen below)
        };
        let mut buffer = None;
        for f in flags.chars() {
            match f {
                'i' => p.caseless = true,
                's' => p.dotall = true,
                'm' => p.multiline = true,
                'x' => p.extended = true,
                'A' => p.anchored = true,
                'E' => p.dollar_endonly = true,
                'G' => p.ungreedy = true,
                'R' => p.relative = true,
                'O' => {}
                'U' => buffer = Some(Buffer::HttpUri),
                'I' => buffer = Some(Buffer::HttpRawUri),
                'P' => buffer = Some(Buffer::HttpClientBody),
                'H' => buffer = Some(Buffer::HttpHeader),
                'D' => buffer = Some(Buffer::HttpRawHeader),
                'M' => buffer = Some(Buffer::HttpMethod),
                'C' => buffer = Some(Buffer::HttpCookie),
                'K' => buffer = Some(Buffer::HttpRawCookie),
                'S' => buffer = Some(Buffer::HttpStatCode),
                'Y' => buffer = Some(Buffer::HttpStatMsg),
                'B' => buffer = Some(Buffer::Raw),
                other => {
                    return Err(ParseError::new(format!("unknown pcre flag {other:?}")));
                }
            }
        }
        if let Some(b) = buffer
            && b.is_http()
        {
            self.add_service("http");
        }
        if p.dollar_endonly {
            // PCRE2 has no inline switch for it; without it `$` also matches before a
            // final newline, so the rule could match more than it should.
            self.skip("pcre flag E", SkipEffect::Constraint);
        }
        let buffer = buffer.unwrap_or_else(|| self.current_buffer());
        self.push_op(buffer, Op::Pcre(p));
        Ok(())
    }

    /// The modifiers `byte_test`, `byte_jump` and `byte_extract` share.
    fn byte_read(
        &mut self,
        bytes: &str,
        offset: &str,
        mods: &[&str],
        extra: &mut ModifierFn<'_>,
    ) -> Result<ByteRead, ParseError> {
        let bytes = int_in(bytes, 1, 10, "byte count")? as u8;
        let mut read = ByteRead {
            bytes,
            offset: self.value(offset, "offset")?,
            relative: false,
            endian: Endian::Big,
            string: None,
            bitmask: None,
        };
        let mut string = false;
        for m in mods {
            let (key, arg) = match m.split_once(char::is_whitespace) {
                Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
                None => (m.trim().to_ascii_lowercase(), None),
            };
            match key.as_str() {
                "relative" => read.relative = true,
                "big" => read.endian = Endian::Big,
                "little" => read.endian = Endian::Little,
                "string" => string = true,
                "hex" => read.string = Some(NumBase::Hex),
                "dec" => read.string = Some(NumBase::Dec),
                "oct" => read.string = Some(NumBase::Oct),
                "dce" => {
                    // DCE/RPC byte order comes from the DCE header the engine does not
                    // decode.
                    self.skip("dce (byte order)", SkipEffect::Constraint);
                    read.endian = Endian::Little;
                }
                "bitmask" => {
                    let a = arg.ok_or_else(|| ParseError::new("bitmask needs a value"))?;
                    let v = int_in(a, 1, i64::from(u32::MAX), "bitmask")?;
                    read.bitmask = Some(v as u32);
                }
                other => {
                    if !extra(other, arg)? {
                        return Err(ParseError::new(format!(
                            "unknown byte option modifier {other:?}"
                        )));
                    }
                }
            }
        }
        if string && read.string.is_none() {
            read.string = Some(NumBase::Dec);
        }
        if !string && read.string.is_some() {
            return Err(ParseError::new("hex/dec/oct need 'string'"));
        }
        if read.string.is_none() && read.bytes > 4 {
            return Err(ParseError::new(format!(
                "{} bytes: binary reads take 1 to 4 bytes",
                read.bytes
            )));
        }
        Ok(read)
    }

    fn byte_test(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        if parts.len() < 4 {
            return Err(ParseError::new(
                "byte_test needs bytes, operator, value and offset",
            ));
        }
        let op_text = parts[1].trim();
        let (negated, op_text) = match op_text.strip_prefix('!') {
            Some("=") | Some("") => (false, "!="),
            Some(r) => (true, r),
            None => (false, op_text),
        };
        let op = match op_text {
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "=" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            "&" => CmpOp::And,
            "^" => CmpOp::Xor,
            o => return Err(ParseError::new(format!("bad byte_test operator {o:?}"))),
        };
        let compare = self.value_u32(parts[2], "byte_test value")?;
        let read = self.byte_read(parts[0], parts[3], &parts[4..], &mut |_, _| Ok(false))?;
        let buffer = self.current_buffer();
        self.push_op(
            buffer,
            Op::ByteTest(ByteTest {
                read,
                op,
                negated,
                value: compare,
            }),
        );
        Ok(())
    }

    /// A byte_test comparison value: up to 32 bits, or a variable.
    fn value_u32(&self, text: &str, what: &str) -> Result<Value, ParseError> {
        let t = text.trim();
        if let Some(i) = self.vars.iter().position(|v| v == t) {
            return Ok(Value::Var(i as u8));
        }
        Ok(Value::Lit(int_in(t, 0, i64::from(u32::MAX), what)?))
    }

    fn byte_jump(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        if parts.len() < 2 {
            return Err(ParseError::new("byte_jump needs bytes and offset"));
        }
        let mut multiplier = 1u32;
        let mut align = false;
        let mut from_beginning = false;
        let mut from_end = false;
        let mut post_offset = Value::Lit(0);
        let vars = self.vars.clone();
        let read = self.byte_read(parts[0], parts[1], &parts[2..], &mut |key, arg| {
            match key {
                "multiplier" => {
                    multiplier = u32_of(arg.unwrap_or(""), "multiplier")?;
                    if multiplier == 0 {
                        return Err(ParseError::new("multiplier must not be 0"));
                    }
                }
                "align" => align = true,
                "from_beginning" => from_beginning = true,
                "from_end" => from_end = true,
                "post_offset" => {
                    let a = arg.unwrap_or("").trim();
                    post_offset = match vars.iter().position(|v| v == a) {
                        Some(i) => Value::Var(i as u8),
                        None => Value::Lit(int_in(a, -65535, 65535, "post_offset")?),
                    };
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let buffer = self.current_buffer();
        self.push_op(
            buffer,
            Op::ByteJump(ByteJump {
                read,
                multiplier,
                align,
                from_beginning,
                from_end,
                post_offset,
            }),
        );
        Ok(())
    }

    fn byte_extract(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        if parts.len() < 3 {
            return Err(ParseError::new(
                "byte_extract needs bytes, offset and a name",
            ));
        }
        let name = parts[2].trim().to_string();
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            || name.as_bytes()[0].is_ascii_digit()
        {
            return Err(ParseError::new(format!("bad byte_extract name {name:?}")));
        }
        let mut multiplier = 1u32;
        let mut align = 0u8;
        let read = self.byte_read(parts[0], parts[1], &parts[3..], &mut |key, arg| {
            match key {
                "multiplier" => {
                    multiplier = u32_of(arg.unwrap_or(""), "multiplier")?;
                    if multiplier == 0 {
                        return Err(ParseError::new("multiplier must not be 0"));
                    }
                }
                "align" => {
                    align = int_in(arg.unwrap_or(""), 2, 4, "align")? as u8;
                    if align == 3 {
                        return Err(ParseError::new("align must be 2 or 4"));
                    }
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        let var = match self.vars.iter().position(|v| *v == name) {
            Some(i) => i,
            None => {
                if self.vars.len() >= 8 {
                    return Err(ParseError::new("more than 8 byte_extract variables"));
                }
                self.vars.push(name);
                self.vars.len() - 1
            }
        };
        let buffer = self.current_buffer();
        self.push_op(
            buffer,
            Op::ByteExtract(ByteExtract {
                read,
                multiplier,
                align,
                var: var as u8,
            }),
        );
        Ok(())
    }

    fn isdataat(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        let first = parts
            .first()
            .ok_or_else(|| ParseError::new("isdataat needs a value"))?;
        let (negated, n) = match first.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, *first),
        };
        let at = self.value(n, "isdataat")?;
        let mut relative = false;
        let mut buffer = self.current_buffer();
        for m in &parts[1..] {
            match m.to_ascii_lowercase().as_str() {
                "relative" => relative = true,
                "rawbytes" => buffer = Buffer::Raw,
                other => {
                    return Err(ParseError::new(format!(
                        "unknown isdataat modifier {other:?}"
                    )));
                }
            }
        }
        self.push_op(
            buffer,
            Op::IsDataAt {
                at,
                relative,
                negated,
            },
        );
        Ok(())
    }

    fn bufferlen(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        let check = range(
            parts
                .first()
                .ok_or_else(|| ParseError::new("bufferlen needs a value"))?,
        )?;
        let mut relative = false;
        for m in &parts[1..] {
            match m.to_ascii_lowercase().as_str() {
                "relative" => relative = true,
                other => {
                    return Err(ParseError::new(format!(
                        "unknown bufferlen modifier {other:?}"
                    )));
                }
            }
        }
        let buffer = self.current_buffer();
        self.push_op(buffer, Op::BufferLen { check, relative });
        Ok(())
    }

    fn urilen(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        let check = range(
            parts
                .first()
                .ok_or_else(|| ParseError::new("urilen needs a value"))?,
        )?;
        let buffer = match parts.get(1).map(|s| s.to_ascii_lowercase()) {
            None => Buffer::HttpUri,
            Some(s) if s == "norm" => Buffer::HttpUri,
            Some(s) if s == "raw" => Buffer::HttpRawUri,
            Some(s) => return Err(ParseError::new(format!("unknown urilen modifier {s:?}"))),
        };
        self.add_service("http");
        // urilen tests its own buffer without moving the rule's cursor.
        self.pending.push(Pending {
            buffer,
            reset: true,
            op: Op::BufferLen {
                check,
                relative: false,
            },
        });
        Ok(())
    }

    fn ip_proto(&mut self, value: &str) -> Result<(), ParseError> {
        let t = value.trim();
        let (prefix, name) = match t.find(|c: char| c.is_ascii_alphanumeric()) {
            Some(i) => (&t[..i], &t[i..]),
            None => return Err(ParseError::new(format!("bad ip_proto {t:?}"))),
        };
        let number = match name.to_ascii_lowercase().as_str() {
            "icmp" => 1,
            "igmp" => 2,
            "tcp" => 6,
            "udp" => 17,
            "ipv6" => 41,
            "gre" => 47,
            "esp" => 50,
            "ah" => 51,
            "icmpv6" | "ipv6-icmp" => 58,
            "pim" => 103,
            "sctp" => 132,
            n => int_in(n, 0, 255, "ip_proto")?,
        };
        self.checks
            .push(PacketCheck::IpProto(range(&format!("{prefix}{number}"))?));
        Ok(())
    }

    fn flags(&mut self, value: &str) -> Result<(), ParseError> {
        let (spec, mask) = match value.split_once(',') {
            Some((s, m)) => (s.trim(), Some(m.trim())),
            None => (value.trim(), None),
        };
        let (mode, letters) = match spec.chars().next() {
            Some('+') => (FlagsMode::All, &spec[1..]),
            Some('*') => (FlagsMode::Any, &spec[1..]),
            Some('!') => (FlagsMode::Not, &spec[1..]),
            _ => (FlagsMode::Exact, spec),
        };
        // A modifier may also come last (`flags:A+`).
        let (mode, letters) = match letters.chars().last() {
            Some('+') if mode == FlagsMode::Exact => {
                (FlagsMode::All, &letters[..letters.len() - 1])
            }
            Some('*') if mode == FlagsMode::Exact => {
                (FlagsMode::Any, &letters[..letters.len() - 1])
            }
            _ => (mode, letters),
        };
        let flags = tcp_flag_bits(letters)?;
        let mask = match mask {
            Some(m) => tcp_flag_bits(m)?,
            None => 0,
        };
        self.checks
            .push(PacketCheck::Flags(FlagsCheck { mode, flags, mask }));
        Ok(())
    }

    fn fragbits(&mut self, value: &str) -> Result<(), ParseError> {
        let t = value.trim();
        let (mode, letters) = match t.chars().next() {
            Some('+') => (FlagsMode::All, &t[1..]),
            Some('*') => (FlagsMode::Any, &t[1..]),
            Some('!') => (FlagsMode::Not, &t[1..]),
            _ => (FlagsMode::Exact, t),
        };
        let (mode, letters) = match letters.chars().last() {
            Some('+') if mode == FlagsMode::Exact => {
                (FlagsMode::All, &letters[..letters.len() - 1])
            }
            Some('*') if mode == FlagsMode::Exact => {
                (FlagsMode::Any, &letters[..letters.len() - 1])
            }
            _ => (mode, letters),
        };
        let mut bits = 0u8;
        for c in letters.chars() {
            bits |= match c.to_ascii_uppercase() {
                'M' => 1,
                'D' => 2,
                'R' => 4,
                c if c.is_whitespace() => 0,
                other => {
                    return Err(ParseError::new(format!("bad fragbits letter {other:?}")));
                }
            };
        }
        self.checks
            .push(PacketCheck::Fragbits(FragbitsCheck { mode, bits }));
        Ok(())
    }

    fn stream_size(&mut self, value: &str) -> Result<(), ParseError> {
        let parts = comma_list(value);
        let dir = |s: &str| -> Option<StreamSizeDir> {
            Some(match s.to_ascii_lowercase().as_str() {
                "client" | "to_server" => StreamSizeDir::Client,
                "server" | "to_client" => StreamSizeDir::Server,
                "both" => StreamSizeDir::Both,
                "either" => StreamSizeDir::Either,
                _ => return None,
            })
        };
        let (d, check) = match parts.as_slice() {
            // Snort 2: direction, operator, size.
            [d, op, n] => (
                dir(d)
                    .ok_or_else(|| ParseError::new(format!("bad stream_size direction {d:?}")))?,
                range(&format!("{op}{n}"))?,
            ),
            // Snort 3: comparison, direction.
            [c, d] => (
                dir(d)
                    .ok_or_else(|| ParseError::new(format!("bad stream_size direction {d:?}")))?,
                range(c)?,
            ),
            [c] => (StreamSizeDir::Either, range(c)?),
            _ => return Err(ParseError::new(format!("bad stream_size {value:?}"))),
        };
        self.checks.push(PacketCheck::StreamSize(d, check));
        Ok(())
    }

    fn detection_filter_opt(&self, value: &str) -> Result<DetectionFilter, ParseError> {
        let f = event_filter(&format!("type threshold,{value}"))?;
        Ok(DetectionFilter {
            track: f.track,
            count: f.count,
            seconds: f.seconds,
        })
    }

    /// Finishes the rule.
    pub(crate) fn finish(self, header: Header, location: Location) -> Result<Rule, ParseError> {
        if !self.sid_seen {
            return Err(ParseError::new("rule has no sid"));
        }
        let mut program = Vec::with_capacity(self.pending.len() + 2);
        let mut current = Buffer::Pkt;
        for p in self.pending {
            if p.reset || p.buffer != current {
                program.push(Op::Buffer(p.buffer));
                current = p.buffer;
            }
            program.push(p.op);
        }
        let mut services = self.services;
        if let Some(s) = &header.service {
            let s = s.to_ascii_lowercase();
            if !services.contains(&s) {
                services.push(s);
            }
        }
        if program
            .iter()
            .any(|o| matches!(o, Op::Buffer(Buffer::FileData)))
            && services.is_empty()
        {
            for s in classify::FILE_DATA_SERVICES {
                services.push((*s).to_string());
            }
        }
        let priority = self
            .priority
            .or_else(|| self.classtype.as_deref().and_then(classify::priority))
            .unwrap_or(0);
        Ok(Rule {
            sig: self.sig,
            header,
            msg: self.msg,
            classtype: self.classtype,
            priority,
            services,
            flow: self.flow,
            checks: self.checks,
            program,
            flowbit_tests: self.flowbit_tests,
            flowbit_actions: self.flowbit_actions,
            noalert: self.noalert,
            detection_filter: self.detection_filter,
            threshold: self.threshold,
            skipped: self.skipped,
            location,
        })
    }
}

/// TCP flag letters: F S R P A U, C or 1 (CWR), E or 2 (ECE), 0 (no flags).
fn tcp_flag_bits(letters: &str) -> Result<u16, ParseError> {
    let mut bits = 0u16;
    for c in letters.chars() {
        bits |= match c.to_ascii_uppercase() {
            'F' => 0x01,
            'S' => 0x02,
            'R' => 0x04,
            'P' => 0x08,
            'A' => 0x10,
            'U' => 0x20,
            'E' | '2' => 0x40,
            'C' | '1' => 0x80,
            '0' => 0,
            c if c.is_whitespace() => 0,
            other => return Err(ParseError::new(format!("bad TCP flag {other:?}"))),
        };
    }
    Ok(bits)
}

/// Parses `type limit|threshold|both, track by_src|by_dst|by_rule, count N, seconds N`
/// (the `threshold` option, `event_filter` entries and `detection_filter`).
pub fn event_filter(value: &str) -> Result<EventFilter, ParseError> {
    let mut kind = None;
    let mut track = None;
    let mut count = None;
    let mut seconds = None;
    for item in comma_list(value) {
        let mut words = item.split_whitespace();
        let key = words.next().unwrap_or("").to_ascii_lowercase();
        let arg = words
            .next()
            .ok_or_else(|| ParseError::new(format!("{key} needs a value")))?;
        if words.next().is_some() {
            return Err(ParseError::new(format!("bad filter item {item:?}")));
        }
        match key.as_str() {
            "type" => {
                kind = Some(match arg.to_ascii_lowercase().as_str() {
                    "limit" => EventFilterKind::Limit,
                    "threshold" => EventFilterKind::Threshold,
                    "both" => EventFilterKind::Both,
                    other => {
                        return Err(ParseError::new(format!("bad filter type {other:?}")));
                    }
                })
            }
            "track" => {
                track = Some(match arg.to_ascii_lowercase().as_str() {
                    "by_src" => Track::BySrc,
                    "by_dst" => Track::ByDst,
                    "by_rule" => Track::ByRule,
                    other => {
                        return Err(ParseError::new(format!("bad filter track {other:?}")));
                    }
                })
            }
            "count" => count = Some(u32_of(arg, "count")?),
            "seconds" => seconds = Some(u32_of(arg, "seconds")?),
            other => return Err(ParseError::new(format!("unknown filter item {other:?}"))),
        }
    }
    Ok(EventFilter {
        kind: kind.ok_or_else(|| ParseError::new("filter has no type"))?,
        track: track.ok_or_else(|| ParseError::new("filter has no track"))?,
        count: count.ok_or_else(|| ParseError::new("filter has no count"))?,
        seconds: seconds.ok_or_else(|| ParseError::new("filter has no seconds"))?,
    })
}
