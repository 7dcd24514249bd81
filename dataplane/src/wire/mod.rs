//! Zero-copy wire parsers (filled in below).
