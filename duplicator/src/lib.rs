//! duplicator
