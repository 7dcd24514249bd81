//! Reading numbers from data for `byte_test`, `byte_jump` and `byte_extract`.

use crate::engine::rules::{ByteRead, CmpOp, Endian, NumBase, Value};

/// The value of `v`, looking variables up in `vars`.
#[inline]
pub fn value(v: Value, vars: &[u32; 8]) -> i64 {
    match v {
        Value::Lit(n) => n,
        Value::Var(i) => i64::from(vars[usize::from(i) & 7]),
    }
}

/// Reads the number `read` describes from `data`, where the cursor is at `cursor`.
/// Returns the value and the position just after the bytes read, or `None` when the
/// bytes are outside the data or (for text) hold no digits.
pub fn read(read: &ByteRead, data: &[u8], cursor: usize, vars: &[u32; 8]) -> Option<(u32, usize)> {
    let base = if read.relative { cursor as i64 } else { 0 };
    let start = base + value(read.offset, vars);
    if start < 0 {
        return None;
    }
    let start = start as usize;
    let n = usize::from(read.bytes);
    let bytes = data.get(start..start.checked_add(n)?)?;
    let mut v = match read.string {
        None => {
            let mut v = 0u32;
            match read.endian {
                Endian::Big => {
                    for &b in bytes {
                        v = v << 8 | u32::from(b);
                    }
                }
                Endian::Little => {
                    for &b in bytes.iter().rev() {
                        v = v << 8 | u32::from(b);
                    }
                }
            }
            v
        }
        Some(base) => parse_digits(bytes, base)?,
    };
    if let Some(mask) = read.bitmask {
        v &= mask;
        v >>= mask.trailing_zeros();
    }
    Some((v, start + n))
}

/// Parses leading digits of `text` in `base` (after optional spaces and a `+`), the
/// way `strtoul` does; `None` when there are none or the value overflows.
fn parse_digits(text: &[u8], base: NumBase) -> Option<u32> {
    let radix = match base {
        NumBase::Dec => 10,
        NumBase::Hex => 16,
        NumBase::Oct => 8,
    };
    let mut i = 0;
    while i < text.len() && text[i].is_ascii_whitespace() {
        i += 1;
    }
    if i < text.len() && text[i] == b'+' {
        i += 1;
    }
    if radix == 16
        && text.get(i) == Some(&b'0')
        && matches!(text.get(i + 1), Some(b'x' | b'X'))
        && text.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let mut v: u64 = 0;
    let mut digits = 0;
    while let Some(d) = text.get(i).and_then(|&b| char::from(b).to_digit(radix)) {
        v = v * u64::from(radix) + u64::from(d);
        if v > u64::from(u32::MAX) {
            return None;
        }
        digits += 1;
        i += 1;
    }
    (digits > 0).then_some(v as u32)
}

/// The `byte_test` comparison `value OP other`.
#[inline]
pub fn compare(op: CmpOp, value: u32, other: u32) -> bool {
    match op {
        CmpOp::Lt => value < other,
        CmpOp::Le => value <= other,
        CmpOp::Gt => value > other,
        CmpOp::Ge => value >= other,
        CmpOp::Eq => value == other,
        CmpOp::Ne => value != other,
        CmpOp::And => value & other != 0,
        CmpOp::Xor => value ^ other != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(
        bytes: u8,
        offset: i64,
        relative: bool,
        endian: Endian,
        string: Option<NumBase>,
    ) -> ByteRead {
        ByteRead {
            bytes,
            offset: Value::Lit(offset),
            relative,
            endian,
            string,
            bitmask: None,
        }
    }

    #[test]
    fn binary_reads() {
        let d = [0x12, 0x34, 0x56, 0x78, 0x9a];
        let v = [0; 8];
        assert_eq!(
            read(&r(2, 1, false, Endian::Big, None), &d, 0, &v),
            Some((0x3456, 3))
        );
        assert_eq!(
            read(&r(2, 1, false, Endian::Little, None), &d, 0, &v),
            Some((0x5634, 3))
        );
        assert_eq!(
            read(&r(4, 0, true, Endian::Big, None), &d, 1, &v),
            Some((0x3456789a, 5))
        );
        assert_eq!(read(&r(4, 1, true, Endian::Big, None), &d, 1, &v), None);
        assert_eq!(read(&r(1, -2, true, Endian::Big, None), &d, 1, &v), None);
        assert_eq!(
            read(&r(1, -1, true, Endian::Big, None), &d, 1, &v),
            Some((0x12, 1))
        );
        let mut m = r(2, 0, false, Endian::Big, None);
        m.bitmask = Some(0x0ff0);
        assert_eq!(read(&m, &d, 0, &v), Some((0x23, 2)));
    }

    #[test]
    fn text_reads() {
        let v = [0; 8];
        assert_eq!(
            read(
                &r(4, 0, false, Endian::Big, Some(NumBase::Dec)),
                b"12ab",
                0,
                &v
            ),
            Some((12, 4))
        );
        assert_eq!(
            read(
                &r(3, 0, false, Endian::Big, Some(NumBase::Hex)),
                b"1fZ",
                0,
                &v
            ),
            Some((31, 3))
        );
        assert_eq!(
            read(
                &r(2, 0, false, Endian::Big, Some(NumBase::Dec)),
                b"ab",
                0,
                &v
            ),
            None
        );
        assert_eq!(
            read(
                &r(10, 0, false, Endian::Big, Some(NumBase::Dec)),
                b"9999999999",
                0,
                &v
            ),
            None
        );
        assert_eq!(
            read(
                &r(3, 0, false, Endian::Big, Some(NumBase::Oct)),
                b" 17",
                0,
                &v
            ),
            Some((15, 3))
        );
    }

    #[test]
    fn comparisons() {
        assert!(compare(CmpOp::And, 0b1010, 0b0010));
        assert!(!compare(CmpOp::And, 0b1010, 0b0101));
        assert!(compare(CmpOp::Xor, 5, 4) && !compare(CmpOp::Xor, 5, 5));
        assert!(compare(CmpOp::Ge, 5, 5) && !compare(CmpOp::Gt, 5, 5));
    }
}
