//! What the privileged end-to-end tests share.

use std::process::Command;

/// Whether this test may build network namespaces (root and iproute2). Without, it
/// says why and the test passes, unless `DAS_REQUIRE_PRIVILEGES=1` (CI) makes it fail.
pub fn privileged() -> bool {
    let required = std::env::var("DAS_REQUIRE_PRIVILEGES").as_deref() == Ok("1");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    let ip = Command::new("ip").arg("-V").output().is_ok();
    if root && ip {
        return true;
    }
    let why = if root {
        "iproute2 (ip) is not installed"
    } else {
        "network namespaces need root"
    };
    assert!(!required, "DAS_REQUIRE_PRIVILEGES=1 but {why}");
    eprintln!("skipped: {why}");
    false
}
