//! Compiles the XDP program (`bpf/steer.bpf.c`) to BPF bytecode with clang; the library
//! embeds the object and loads it at run time. `scripts/setup.sh` installs clang.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "bpf/steer.bpf.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let obj = out.join("steer.bpf.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let status = Command::new(&clang)
        .args([
            "-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-c", src, "-o",
        ])
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run {clang} to build the XDP program ({e}); run scripts/setup.sh")
        });
    assert!(status.success(), "{clang} failed to compile {src}");
}
