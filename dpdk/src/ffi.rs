//! The generated bindings to DPDK and the C shim, and small helpers around them.
#![allow(
    unsafe_code,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    dead_code,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    clippy::all
)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// DPDK's description of an error number (its own codes as well as the C library's),
/// with the number.
pub(crate) fn error_message(errno: i32) -> String {
    let errno = errno.abs();
    // SAFETY: rte_strerror returns a pointer to a NUL-terminated string that stays valid
    // at least until the next call on this thread; it is copied at once.
    let text = unsafe { std::ffi::CStr::from_ptr(rte_strerror(errno)) };
    format!("{} (errno {errno})", text.to_string_lossy())
}

/// The calling thread's `rte_errno`.
pub(crate) fn last_errno() -> i32 {
    // SAFETY: reads a thread-local integer.
    unsafe { das_errno() }
}
