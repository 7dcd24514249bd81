//! Build script of das-dpdk. With the `dpdk` feature it generates the bindings to the
//! installed DPDK (bindgen over `src/wrapper.h`, with the compiler flags
//! `pkg-config --cflags libdpdk` gives), compiles the C shim that exports DPDK's
//! `static inline` functions (`src/shim.c`) and links libdpdk. Without the feature it
//! does nothing, so the workspace builds on machines without DPDK.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "dpdk")]
    dpdk::build();
}

#[cfg(feature = "dpdk")]
mod dpdk {
    use std::env;
    use std::path::PathBuf;
    use std::process::Command;

    /// The DPDK release the bindings are written against (Debian 12's).
    const DPDK_VERSION: &str = "22.11";

    pub fn build() {
        for file in ["src/wrapper.h", "src/shim.h", "src/shim.c"] {
            println!("cargo:rerun-if-changed={file}");
        }
        println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

        // Link flags (-lrte_eal, -lrte_ethdev, ...). The drivers of virtual devices
        // (net_ring, net_null, ...) are plugins the EAL loads at run time.
        let lib = pkg_config::Config::new()
            .atleast_version(DPDK_VERSION)
            .probe("libdpdk")
            .unwrap_or_else(|e| {
                panic!(
                    "the `dpdk` feature needs DPDK {DPDK_VERSION} or newer found by pkg-config \
                     (Debian: apt-get install libdpdk-dev pkg-config): {e}"
                )
            });
        let cflags = raw_cflags();

        let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        let bindings = bindgen::Builder::default()
            .header("src/wrapper.h")
            .clang_args(&cflags)
            .clang_args(
                lib.include_paths
                    .iter()
                    .map(|p| format!("-I{}", p.display())),
            )
            .allowlist_function("rte_.*|das_.*")
            .allowlist_type("rte_.*")
            .allowlist_var("RTE_.*|rte_.*")
            .prepend_enum_name(false)
            // Packed headers holding aligned unions, which Rust cannot express; das
            // never looks inside them.
            .opaque_type("rte_l2tpv2_.*|rte_gtp_psc_.*")
            .derive_default(true)
            .derive_debug(false)
            .layout_tests(false)
            .generate_comments(false)
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
            .generate()
            .unwrap_or_else(|e| {
                panic!(
                    "bindgen could not read the DPDK headers (it needs libclang: apt-get \
                     install clang libclang-dev): {e}"
                )
            });
        bindings
            .write_to_file(out.join("bindings.rs"))
            .expect("writing the generated bindings");

        let mut shim = cc::Build::new();
        shim.file("src/shim.c").opt_level(3).warnings(true);
        for flag in &cflags {
            shim.flag(flag);
        }
        shim.compile("das_dpdk_shim");
    }

    /// `pkg-config --cflags libdpdk` word by word: it holds `-include rte_config.h` and
    /// the `-march` DPDK was built for, which the headers need.
    fn raw_cflags() -> Vec<String> {
        let output = Command::new("pkg-config")
            .args(["--cflags", "libdpdk"])
            .output()
            .expect("running pkg-config --cflags libdpdk");
        assert!(
            output.status.success(),
            "pkg-config --cflags libdpdk failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("pkg-config prints UTF-8")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}
