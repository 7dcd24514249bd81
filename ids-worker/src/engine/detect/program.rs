//! A rule's data tests compiled for evaluation, and their evaluation with Snort's
//! cursor semantics.
//!
//! Options run in rule order over a cursor: a buffer option puts the cursor at the
//! start of its buffer; `content` and `pcre` move it to the end of their match;
//! `byte_jump` and `byte_extract` move it past what they read; relative options are
//! placed from it. When a later relative option fails, an earlier `content` or `pcre`
//! is retried at its next match (as Snort's detection-option tree does), so a rule
//! matches if any choice of matches satisfies every option. The search is bounded
//! ([`MAX_STEPS`] option evaluations per rule and packet) so no input can make it
//! explode; a rule that runs out counts as not matching, and is counted.

use pcre2::bytes::{Regex, RegexBuilder};

use super::bytes;
use super::search::Pattern;
use crate::engine::http::HttpBuffers;
use crate::engine::rules::{
    Buffer, ByteExtract, ByteJump, ByteTest, Content, Op, ParseError, Pcre, RangeCheck, Value,
};

/// Option evaluations one rule may spend on one packet.
pub const MAX_STEPS: u32 = 20_000;

/// The data one detection pass can look at.
#[derive(Debug, Clone, Copy)]
pub struct BufferSet<'a> {
    /// `pkt_data` / `raw_data`: the packet payload or reassembled data.
    pub pkt: &'a [u8],
    /// `file_data`, when the current data carries a file or message body.
    pub file_data: Option<&'a [u8]>,
    /// The HTTP buffers of the current message, when the flow speaks HTTP.
    pub http: Option<&'a HttpBuffers>,
    /// `http_client_body`: the request body of this body section.
    pub client_body: Option<&'a [u8]>,
    /// `http_raw_body`: the body of this section as sent.
    pub raw_body: Option<&'a [u8]>,
}

impl<'a> BufferSet<'a> {
    /// Packet data only.
    pub fn packet(pkt: &'a [u8]) -> Self {
        BufferSet {
            pkt,
            file_data: None,
            http: None,
            client_body: None,
            raw_body: None,
        }
    }
}

impl<'a> BufferSet<'a> {
    /// The bytes of `buffer`, if the current data has it.
    #[inline]
    pub fn get(&self, buffer: Buffer, field: Option<&[u8]>) -> Option<&'a [u8]> {
        match buffer {
            Buffer::Pkt | Buffer::Raw => Some(self.pkt),
            Buffer::FileData => self.file_data,
            Buffer::HttpClientBody => self.client_body,
            Buffer::HttpRawBody => self.raw_body,
            Buffer::HttpHeaderField(_) => self.http?.field(field?),
            b => self.http?.get(b),
        }
    }
}

/// A compiled content.
#[derive(Debug, Clone)]
pub struct ContentTest {
    pattern: Pattern,
    negated: bool,
    relative: bool,
    offset: Option<Value>,
    depth: Option<Value>,
    distance: Option<Value>,
    within: Option<Value>,
}

impl ContentTest {
    fn new(c: &Content) -> ContentTest {
        ContentTest {
            pattern: Pattern::new(&c.pattern, c.nocase),
            negated: c.negated,
            relative: c.is_relative(),
            offset: c.offset,
            depth: c.depth,
            distance: c.distance,
            within: c.within,
        }
    }

    /// The search window `[start, end)` for a cursor at `pos` in data of `len` bytes.
    #[inline]
    fn window(&self, pos: usize, len: usize, vars: &[u32; 8]) -> Option<(usize, usize)> {
        let (start, end) = if self.relative {
            let start = pos as i64 + self.distance.map_or(0, |v| bytes::value(v, vars));
            let end = self
                .within
                .map_or(len as i64, |w| start + bytes::value(w, vars));
            (start, end)
        } else {
            let start = self.offset.map_or(0, |v| bytes::value(v, vars));
            let end = self
                .depth
                .map_or(len as i64, |d| start + bytes::value(d, vars));
            (start, end)
        };
        let start = start.max(0) as usize;
        let end = (end.max(0) as usize).min(len);
        (start <= end).then_some((start, end))
    }
}

/// A compiled pcre.
#[derive(Debug, Clone)]
pub struct PcreTest {
    regex: Regex,
    relative: bool,
    negated: bool,
}

impl PcreTest {
    /// Compiles a rule's pcre (PCRE2, JIT where available).
    pub fn new(p: &Pcre) -> Result<PcreTest, ParseError> {
        let mut pattern = String::with_capacity(p.pattern.len() + 12);
        if p.ungreedy {
            pattern.push_str("(?U)");
        }
        if p.anchored {
            pattern.push_str("\\A(?:");
            pattern.push_str(&p.pattern);
            if p.extended {
                // End a trailing `#` comment before the group closes.
                pattern.push('\n');
            }
            pattern.push(')');
        } else {
            pattern.push_str(&p.pattern);
        }
        let regex = RegexBuilder::new()
            .caseless(p.caseless)
            .dotall(p.dotall)
            .multi_line(p.multiline)
            .extended(p.extended)
            .jit_if_available(true)
            .build(&pattern)
            .map_err(|e| ParseError::new(format!("pcre /{}/: {e}", p.pattern)))?;
        Ok(PcreTest {
            regex,
            relative: p.relative,
            negated: p.negated,
        })
    }
}

/// One compiled data test.
#[derive(Debug, Clone)]
pub enum Step {
    /// Switch buffer (with the field name for `http_header:field`).
    Buffer(Buffer, Option<Box<[u8]>>),
    /// `content`.
    Content(Box<ContentTest>),
    /// `pcre`.
    Pcre(Box<PcreTest>),
    /// `byte_test`.
    ByteTest(ByteTest),
    /// `byte_jump`.
    ByteJump(ByteJump),
    /// `byte_extract`.
    ByteExtract(ByteExtract),
    /// `isdataat`.
    IsDataAt {
        /// Position tested.
        at: Value,
        /// From the cursor.
        relative: bool,
        /// No data may be there.
        negated: bool,
    },
    /// `bufferlen` / `urilen`.
    BufferLen {
        /// The test.
        check: RangeCheck,
        /// From the cursor.
        relative: bool,
    },
}

impl Step {
    /// Whether the step is placed relative to the cursor.
    fn is_relative(&self) -> bool {
        match self {
            Step::Buffer(..) => false,
            Step::Content(c) => c.relative,
            Step::Pcre(p) => p.relative,
            Step::ByteTest(b) => b.read.relative,
            Step::ByteJump(b) => b.read.relative,
            Step::ByteExtract(b) => b.read.relative,
            Step::IsDataAt { relative, .. } | Step::BufferLen { relative, .. } => *relative,
        }
    }
}

/// A rule's compiled data tests.
#[derive(Debug, Clone, Default)]
pub struct Program {
    steps: Vec<Step>,
    /// For each step: whether the next step is relative (so retrying this one at a
    /// later match can change the outcome).
    retry: Vec<bool>,
}

/// The cursor: which buffer, its bytes, and the position in them.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

/// What an evaluation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every test passed.
    Match,
    /// Some test failed.
    NoMatch,
    /// The search ran out of steps.
    Exhausted,
}

impl Program {
    /// Compiles a rule's program; `fields` names the `http_header:field` buffers.
    pub fn compile(ops: &[Op], fields: &[String]) -> Result<Program, ParseError> {
        let mut steps = Vec::with_capacity(ops.len());
        for op in ops {
            steps.push(match op {
                Op::Buffer(b) => {
                    let field = match b {
                        Buffer::HttpHeaderField(i) => Some(
                            fields
                                .get(usize::from(*i))
                                .ok_or_else(|| ParseError::new("unknown header field"))?
                                .as_bytes()
                                .into(),
                        ),
                        _ => None,
                    };
                    Step::Buffer(*b, field)
                }
                Op::Content(c) => Step::Content(Box::new(ContentTest::new(c))),
                Op::Pcre(p) => Step::Pcre(Box::new(PcreTest::new(p)?)),
                Op::ByteTest(b) => Step::ByteTest(*b),
                Op::ByteJump(b) => Step::ByteJump(*b),
                Op::ByteExtract(b) => Step::ByteExtract(*b),
                Op::IsDataAt {
                    at,
                    relative,
                    negated,
                } => Step::IsDataAt {
                    at: *at,
                    relative: *relative,
                    negated: *negated,
                },
                Op::BufferLen { check, relative } => Step::BufferLen {
                    check: *check,
                    relative: *relative,
                },
            });
        }
        let retry = (0..steps.len())
            .map(|i| steps.get(i + 1).is_some_and(Step::is_relative))
            .collect();
        Ok(Program { steps, retry })
    }

    /// Whether the program has no tests.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Evaluates the program over `buffers`.
    pub fn eval(&self, buffers: &BufferSet<'_>) -> Outcome {
        if self.steps.is_empty() {
            return Outcome::Match;
        }
        let mut budget = MAX_STEPS;
        let cursor = Cursor {
            data: buffers.pkt,
            pos: 0,
        };
        if self.run(0, cursor, [0; 8], buffers, &mut budget) {
            Outcome::Match
        } else if budget == 0 {
            Outcome::Exhausted
        } else {
            Outcome::NoMatch
        }
    }

    fn run(
        &self,
        i: usize,
        cur: Cursor<'_>,
        mut vars: [u32; 8],
        buffers: &BufferSet<'_>,
        budget: &mut u32,
    ) -> bool {
        let Some(step) = self.steps.get(i) else {
            return true;
        };
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let data = cur.data;
        match step {
            Step::Buffer(b, field) => match buffers.get(*b, field.as_deref()) {
                Some(d) => self.run(i + 1, Cursor { data: d, pos: 0 }, vars, buffers, budget),
                None => false,
            },
            Step::Content(c) => {
                let Some((start, end)) = c.window(cur.pos, data.len(), &vars) else {
                    return c.negated && self.run(i + 1, cur, vars, buffers, budget);
                };
                if c.negated {
                    return c.pattern.find(data, start, end).is_none()
                        && self.run(i + 1, cur, vars, buffers, budget);
                }
                let mut from = start;
                while let Some(m) = c.pattern.find(data, from, end) {
                    let next = Cursor {
                        data,
                        pos: m + c.pattern.len(),
                    };
                    if self.run(i + 1, next, vars, buffers, budget) {
                        return true;
                    }
                    if !self.retry[i] || *budget == 0 {
                        return false;
                    }
                    from = m + 1;
                }
                false
            }
            Step::Pcre(p) => {
                let base = if p.relative {
                    cur.pos.min(data.len())
                } else {
                    0
                };
                let subject = &data[base..];
                if p.negated {
                    let found = matches!(p.regex.find_at(subject, 0), Ok(Some(_)));
                    return !found && self.run(i + 1, cur, vars, buffers, budget);
                }
                let mut from = 0usize;
                while from <= subject.len() {
                    let m = match p.regex.find_at(subject, from) {
                        Ok(Some(m)) => m,
                        _ => return false,
                    };
                    let next = Cursor {
                        data,
                        pos: base + m.end(),
                    };
                    if self.run(i + 1, next, vars, buffers, budget) {
                        return true;
                    }
                    if !self.retry[i] || *budget == 0 {
                        return false;
                    }
                    from = m.start() + 1;
                }
                false
            }
            Step::ByteTest(t) => {
                let Some((v, _)) = bytes::read(&t.read, data, cur.pos, &vars) else {
                    return false;
                };
                let other = bytes::value(t.value, &vars).clamp(0, i64::from(u32::MAX)) as u32;
                bytes::compare(t.op, v, other) != t.negated
                    && self.run(i + 1, cur, vars, buffers, budget)
            }
            Step::ByteJump(j) => {
                let Some((v, after)) = bytes::read(&j.read, data, cur.pos, &vars) else {
                    return false;
                };
                let mut jump = i64::from(v) * i64::from(j.multiplier);
                if j.align {
                    jump = (jump + 3) & !3;
                }
                let base = if j.from_beginning {
                    0
                } else if j.from_end {
                    data.len() as i64
                } else {
                    after as i64
                };
                let pos = base + jump + bytes::value(j.post_offset, &vars);
                if pos < 0 || pos as usize > data.len() {
                    return false;
                }
                self.run(
                    i + 1,
                    Cursor {
                        data,
                        pos: pos as usize,
                    },
                    vars,
                    buffers,
                    budget,
                )
            }
            Step::ByteExtract(e) => {
                let Some((v, after)) = bytes::read(&e.read, data, cur.pos, &vars) else {
                    return false;
                };
                let mut v = u64::from(v) * u64::from(e.multiplier);
                if e.align > 1 {
                    let a = u64::from(e.align);
                    v = v.div_ceil(a) * a;
                }
                vars[usize::from(e.var) & 7] = v.min(u64::from(u32::MAX)) as u32;
                self.run(i + 1, Cursor { data, pos: after }, vars, buffers, budget)
            }
            Step::IsDataAt {
                at,
                relative,
                negated,
            } => {
                let base = if *relative { cur.pos as i64 } else { 0 };
                let at = base + bytes::value(*at, &vars);
                let there = at >= 0 && (at as usize) < data.len();
                there != *negated && self.run(i + 1, cur, vars, buffers, budget)
            }
            Step::BufferLen { check, relative } => {
                let len = if *relative {
                    data.len().saturating_sub(cur.pos)
                } else {
                    data.len()
                };
                check.test(len as i64) && self.run(i + 1, cur, vars, buffers, budget)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rules::parse_rule;

    fn program(options: &str) -> Program {
        let r = parse_rule(&format!("alert tcp any any -> any any ({options} sid:1;)")).unwrap();
        Program::compile(&r.program, &[]).unwrap()
    }

    fn matches(options: &str, data: &[u8]) -> bool {
        let b = BufferSet::packet(data);
        program(options).eval(&b) == Outcome::Match
    }

    #[test]
    fn content_placement() {
        assert!(matches(r#"content:"abc";"#, b"xxabcxx"));
        assert!(!matches(r#"content:"ABC";"#, b"xxabcxx"));
        assert!(matches(r#"content:"ABC",nocase;"#, b"xxabcxx"));
        assert!(matches(r#"content:"abc",depth 5;"#, b"xxabcxx"));
        assert!(!matches(r#"content:"abc",depth 4;"#, b"xxabcxx"));
        assert!(matches(r#"content:"abc",offset 2,depth 3;"#, b"xxabcxx"));
        assert!(!matches(r#"content:"abc",offset 3;"#, b"xxabcxx"));
        assert!(matches(
            r#"content:"a"; content:"c",distance 1,within 1;"#,
            b"abc"
        ));
        assert!(!matches(r#"content:"a"; content:"c",within 1;"#, b"abc"));
        assert!(matches(r#"content:!"zz";"#, b"abc"));
        assert!(!matches(r#"content:!"b",offset 1;"#, b"abc"));
    }

    #[test]
    fn retries_earlier_matches() {
        // The first "a" is followed by "x", the second by "b".
        assert!(matches(r#"content:"a"; content:"b",within 1;"#, b"axab"));
        assert!(matches(r#"pcre:"/a./"; content:"b",within 1;"#, b"a1xa2b"));
        assert!(!matches(r#"content:"a"; content:"b",within 1;"#, b"axaxa"));
    }

    #[test]
    fn byte_options() {
        let d = b"\x00\x05hello\x00\x02ab";
        assert!(matches("byte_test:2,=,5,0;", d));
        assert!(matches("byte_test:2,>,4,0;", d));
        assert!(!matches("byte_test:2,!=,5,0;", d));
        assert!(matches(r#"byte_jump:2,0; content:"|00 02|",within 2;"#, d));
        assert!(matches(
            r#"byte_extract:2,0,len; content:"|00 02|",distance len,within 2;"#,
            d
        ));
        assert!(matches(r#"content:"ab"; isdataat:!1,relative;"#, d));
        assert!(!matches(r#"content:"hel"; isdataat:!1,relative;"#, d));
        assert!(matches("isdataat:10;", d));
        assert!(!matches("isdataat:11;", d));
        assert!(matches("bufferlen:11;", d));
        assert!(matches(r#"content:"hello"; bufferlen:4,relative;"#, d));
        assert!(!matches("byte_test:4,=,1,9;", d));
    }

    #[test]
    fn pcre_relative_and_negated() {
        assert!(matches(
            r#"content:"GET"; pcre:"/^\s+\/index/R";"#,
            b"GET /index"
        ));
        assert!(!matches(
            r#"content:"GET"; pcre:"/^\/index/R";"#,
            b"GET /index"
        ));
        assert!(matches(r#"pcre:!"/evil/i";"#, b"good"));
        assert!(!matches(r#"pcre:!"/evil/i";"#, b"EVIL"));
        assert!(matches(r#"pcre:"/^AB/A";"#, b"ABC"));
    }
}
