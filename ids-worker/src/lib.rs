//! ids-worker
