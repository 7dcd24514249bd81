//! Packet-size mixes: which frame lengths data-bearing packets should have.
//!
//! A [`SizeMix`] is either *natural* (the default: sizes follow the protocols, TCP
//! messages are cut into MSS-sized segments) or a list of frame-length classes with
//! weights, written as text like `"64:7,590:4,1514:1"` (frame length without FCS, colon,
//! weight). Presets: [`SizeMix::imix`] (`60:7,590:4,1514:1`), [`SizeMix::small`]
//! (`60:1`, every data packet as short as it can be) and [`SizeMix::large`]
//! (`1514:9,590:1`, mostly MTU-sized).
//!
//! # How a mix is applied
//!
//! Only *data-bearing* packets follow the mix: TCP segments that carry payload, DNS
//! queries and responses, and ICMP/ICMPv6 echo requests and replies. Handshakes, pure
//! ACKs, FINs and RSTs keep their natural, minimal size.
//!
//! - **TCP.** For each application message (an HTTP request or response, a TLS flight or
//!   record batch), segment lengths are drawn one by one: each draw picks a class by
//!   weight, and the segment's payload is the class length minus the segment's headers
//!   (Ethernet, IP, TCP and its options), limited to the peer's MSS. Draws continue until
//!   the payloads add up to at least the message's natural length; the message is then
//!   *padded* to exactly that sum (HTTP: a longer body or a `Cookie` header; TLS: a
//!   `padding` extension or longer encrypted records) and cut at the drawn lengths, so
//!   every data segment has exactly the drawn frame length. A message never takes more
//!   than [`MAX_SEGMENTS_PER_MESSAGE`] segments: with small classes long bodies are cut
//!   short (still to a valid message) rather than spread over thousands of tiny segments.
//! - **DNS.** Each query and each response draws a class; the message is padded to fill
//!   the frame with an EDNS(0) Padding option (RFC 7830), which mix mode always includes.
//! - **ICMP echo.** Each request draws a class and its echo data fills the frame; the
//!   reply echoes the same data, so it has the same length.
//!
//! A class shorter than the smallest frame that can carry a given packet (its headers
//! plus one byte of TCP payload, or the unpadded DNS message) yields that smallest frame
//! instead: with TCP timestamps a 60-byte class becomes a 67-byte IPv4 frame, over IPv6
//! an 87-byte one. Class lengths must lie in 60..=1514 (see
//! [`GenError::FrameTooSmall`]).

use std::fmt;
use std::str::FromStr;

use crate::error::GenError;
use crate::frame::{MAX_FRAME, MIN_FRAME};
use crate::rng::Rng;

/// Most data segments one TCP message may take under a size mix.
pub const MAX_SEGMENTS_PER_MESSAGE: usize = 256;

/// One frame-length class of a [`SizeMix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SizeClass {
    /// Ethernet frame length without FCS, in bytes.
    pub frame_len: u16,
    /// Relative weight.
    pub weight: u32,
}

/// Frame lengths for data-bearing packets: natural, or weighted classes. See the
/// [module documentation](self) for exactly how it is applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SizeMix {
    /// Empty for natural sizes.
    classes: Vec<SizeClass>,
}

impl SizeMix {
    /// Sizes follow the protocols; TCP segments are at most MSS-sized.
    pub fn natural() -> SizeMix {
        SizeMix::default()
    }

    /// The simple IMIX: 60, 590 and 1514-byte frames weighted 7:4:1.
    pub fn imix() -> SizeMix {
        SizeMix::from_pairs(&[(60, 7), (590, 4), (1514, 1)])
    }

    /// Every data packet as short as it can be (one 60-byte class).
    pub fn small() -> SizeMix {
        SizeMix::from_pairs(&[(60, 1)])
    }

    /// Mostly MTU-sized frames: 1514 and 590 bytes weighted 9:1.
    pub fn large() -> SizeMix {
        SizeMix::from_pairs(&[(1514, 9), (590, 1)])
    }

    fn from_pairs(pairs: &[(u16, u32)]) -> SizeMix {
        SizeMix {
            classes: pairs
                .iter()
                .map(|&(frame_len, weight)| SizeClass { frame_len, weight })
                .collect(),
        }
    }

    /// A mix of the given classes, checked: lengths within 60..=1514, no length twice, at
    /// least one positive weight. An empty list is the natural mix.
    pub fn from_classes(classes: Vec<SizeClass>) -> Result<SizeMix, GenError> {
        let mix = SizeMix { classes };
        mix.validate()?;
        Ok(mix)
    }

    /// Checks the classes (see [`SizeMix::from_classes`]).
    pub fn validate(&self) -> Result<(), GenError> {
        if self.classes.is_empty() {
            return Ok(());
        }
        for (i, c) in self.classes.iter().enumerate() {
            let len = usize::from(c.frame_len);
            if len < MIN_FRAME {
                return Err(GenError::FrameTooSmall {
                    len,
                    min: MIN_FRAME,
                });
            }
            if len > MAX_FRAME {
                return Err(GenError::FrameTooLarge {
                    len,
                    max: MAX_FRAME,
                });
            }
            if self.classes[..i].iter().any(|d| d.frame_len == c.frame_len) {
                return Err(GenError::SizeMixSyntax {
                    text: self.to_string(),
                    reason: format!("frame length {len} appears twice"),
                });
            }
        }
        if self.classes.iter().all(|c| c.weight == 0) {
            return Err(GenError::ZeroMixWeights);
        }
        Ok(())
    }

    /// True for the natural mix.
    pub fn is_natural(&self) -> bool {
        self.classes.is_empty()
    }

    /// The classes (empty for the natural mix).
    pub fn classes(&self) -> &[SizeClass] {
        &self.classes
    }

    /// Draws a frame length, or `None` for the natural mix.
    pub(crate) fn sample(&self, rng: &mut Rng) -> Option<usize> {
        if self.classes.is_empty() {
            return None;
        }
        let total: u64 = self.classes.iter().map(|c| u64::from(c.weight)).sum();
        let mut x = rng.below(total);
        for c in &self.classes {
            let w = u64::from(c.weight);
            if x < w {
                return Some(usize::from(c.frame_len));
            }
            x -= w;
        }
        unreachable!("size mix draw past the total weight")
    }
}

impl fmt::Display for SizeMix {
    /// `natural`, or the classes as `LEN:WEIGHT` pairs joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.classes.is_empty() {
            return f.write_str("natural");
        }
        for (i, c) in self.classes.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", c.frame_len, c.weight)?;
        }
        Ok(())
    }
}

impl FromStr for SizeMix {
    type Err = GenError;

    /// Parses `natural`, `imix`, `small`, `large` (any case) or `LEN:WEIGHT` pairs
    /// separated by commas; a bare `LEN` has weight 1. Spaces are ignored.
    fn from_str(text: &str) -> Result<SizeMix, GenError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let syntax = |reason: String| GenError::SizeMixSyntax {
            text: text.to_string(),
            reason,
        };
        match compact.to_ascii_lowercase().as_str() {
            "natural" | "default" | "protocol" => return Ok(SizeMix::natural()),
            "imix" => return Ok(SizeMix::imix()),
            "small" | "min" => return Ok(SizeMix::small()),
            "large" | "mtu" => return Ok(SizeMix::large()),
            "" => return Err(syntax("it is empty".into())),
            _ => {}
        }
        let mut classes = Vec::new();
        for item in compact.split(',') {
            if item.is_empty() {
                return Err(syntax("an empty entry between commas".into()));
            }
            let (len, weight) = match item.split_once(':') {
                Some((l, w)) => (l, w),
                None => (item, "1"),
            };
            let frame_len: u64 = len
                .parse()
                .map_err(|_| syntax(format!("frame length {len:?} is not a whole number")))?;
            let weight: u32 = weight
                .parse()
                .map_err(|_| syntax(format!("weight {weight:?} is not a whole number")))?;
            if frame_len > MAX_FRAME as u64 {
                return Err(GenError::FrameTooLarge {
                    len: usize::try_from(frame_len).unwrap_or(usize::MAX),
                    max: MAX_FRAME,
                });
            }
            classes.push(SizeClass {
                frame_len: frame_len as u16,
                weight,
            });
        }
        SizeMix::from_classes(classes)
    }
}

impl TryFrom<String> for SizeMix {
    type Error = GenError;

    fn try_from(text: String) -> Result<SizeMix, GenError> {
        text.parse()
    }
}

impl From<SizeMix> for String {
    fn from(mix: SizeMix) -> String {
        mix.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_print() {
        assert_eq!("imix".parse::<SizeMix>().unwrap(), SizeMix::imix());
        assert_eq!(SizeMix::imix().to_string(), "60:7,590:4,1514:1");
        assert_eq!("Natural".parse::<SizeMix>().unwrap(), SizeMix::natural());
        assert_eq!(SizeMix::natural().to_string(), "natural");
        assert_eq!("small".parse::<SizeMix>().unwrap(), SizeMix::small());
        assert_eq!("large".parse::<SizeMix>().unwrap(), SizeMix::large());
        for m in [SizeMix::imix(), SizeMix::small(), SizeMix::large()] {
            m.validate().unwrap();
            assert_eq!(m.to_string().parse::<SizeMix>().unwrap(), m);
        }
    }

    #[test]
    fn pairs_parse() {
        let m: SizeMix = " 64:7, 590:4,1514 ".parse().unwrap();
        assert_eq!(
            m.classes(),
            &[
                SizeClass {
                    frame_len: 64,
                    weight: 7
                },
                SizeClass {
                    frame_len: 590,
                    weight: 4
                },
                SizeClass {
                    frame_len: 1514,
                    weight: 1
                },
            ]
        );
    }

    #[test]
    fn bad_text_is_rejected_with_reasons() {
        let err = |s: &str| s.parse::<SizeMix>().unwrap_err();
        assert_eq!(err("42:1"), GenError::FrameTooSmall { len: 42, min: 60 });
        assert_eq!(
            err("9000:1"),
            GenError::FrameTooLarge {
                len: 9000,
                max: 1514
            }
        );
        assert_eq!(err("64:0,128:0"), GenError::ZeroMixWeights);
        assert!(matches!(err(""), GenError::SizeMixSyntax { .. }));
        assert!(matches!(err("64:x"), GenError::SizeMixSyntax { .. }));
        assert!(matches!(err("abc"), GenError::SizeMixSyntax { .. }));
        assert!(matches!(err("64:1,,128:1"), GenError::SizeMixSyntax { .. }));
        assert!(matches!(err("64:1,64:2"), GenError::SizeMixSyntax { .. }));
        assert!(err("abc").to_string().contains("64:7,590:4,1514:1"));
    }

    #[test]
    fn sampling_follows_weights() {
        let mix = SizeMix::imix();
        let mut rng = Rng::new(11);
        let mut counts = [0u32; 3];
        for _ in 0..12000 {
            match mix.sample(&mut rng) {
                Some(60) => counts[0] += 1,
                Some(590) => counts[1] += 1,
                Some(1514) => counts[2] += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!((6500..7500).contains(&counts[0]), "{counts:?}");
        assert!((3600..4400).contains(&counts[1]), "{counts:?}");
        assert!((800..1200).contains(&counts[2]), "{counts:?}");
        assert_eq!(SizeMix::natural().sample(&mut rng), None);
    }

    #[test]
    fn serde_uses_text() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct W {
            mix: SizeMix,
        }
        let w: W = serde_json::from_str(r#"{"mix":"64:7,1514:1"}"#).unwrap();
        assert_eq!(w.mix.to_string(), "64:7,1514:1");
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"mix":"64:7,1514:1"}"#
        );
        assert!(serde_json::from_str::<W>(r#"{"mix":"10:1"}"#).is_err());
    }
}
