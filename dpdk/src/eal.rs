//! The DPDK Environment Abstraction Layer: started once per process.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::path::PathBuf;
use std::sync::OnceLock;

use dataplane::dpdk_config::EalConfig;

use crate::error::DpdkError;
use crate::ffi;

/// The outcome of the process's one `rte_eal_init`.
static EAL: OnceLock<Result<Eal, DpdkError>> = OnceLock::new();

/// The running EAL. There is at most one per process: [`Eal::init`] starts it the first
/// time and hands out the same handle afterwards. Opening a port takes it, as proof
/// that DPDK runs.
#[derive(Debug)]
pub struct Eal {
    args: Vec<String>,
}

/// An ethdev port the EAL probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthDev {
    /// DPDK's port id.
    pub port_id: u16,
    /// The device's name: a virtual device's (`net_ring0`) or a PCI address.
    pub name: String,
}

impl Eal {
    /// Starts the EAL with `config`'s arguments ([`EalConfig::args`]), or returns the
    /// running EAL if it was started with the same arguments.
    ///
    /// `rte_eal_init` runs once per process, even after a failure or
    /// `rte_eal_cleanup`: a second call with other arguments is
    /// [`DpdkError::EalAlreadyRunning`], and after a failed start every call returns
    /// that failure again. The EAL pins the calling thread to the first lcore's CPUs,
    /// and threads it starts later inherit that.
    ///
    /// Before the first start, hugepages (unless `no_huge`) and, for kernel-backed
    /// virtual devices (`net_af_packet`, `net_af_xdp`, `net_tap`), the capabilities
    /// they need and their `iface=` are checked: without them this is
    /// [`DpdkError::Unmet`] and the EAL is not started.
    pub fn init(config: &EalConfig) -> Result<&'static Eal, DpdkError> {
        if EAL.get().is_none() {
            crate::preflight::check(config)?;
        }
        let args = config.args();
        match EAL.get_or_init(|| start(&args)) {
            Ok(eal) if eal.args == args => Ok(eal),
            Ok(eal) => Err(DpdkError::EalAlreadyRunning {
                running: eal.args.clone(),
                requested: args,
            }),
            Err(e) => Err(e.clone()),
        }
    }

    /// The running EAL, if one was started successfully.
    pub fn get() -> Option<&'static Eal> {
        EAL.get().and_then(|r| r.as_ref().ok())
    }

    /// The arguments the EAL runs with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The folder where the EAL keeps this process's runtime files
    /// (`/var/run/dpdk/PREFIX` for root). It exists while the EAL runs; with
    /// `--no-shconf` and `--no-telemetry` it stays empty.
    pub fn runtime_dir(&self) -> PathBuf {
        // SAFETY: the EAL runs; the function returns a pointer to its own
        // NUL-terminated path, valid for the life of the process.
        let dir = unsafe { CStr::from_ptr(ffi::rte_eal_get_runtime_dir()) };
        PathBuf::from(dir.to_string_lossy().into_owned())
    }

    /// Every ethdev port the EAL probed, by port id.
    pub fn devices(&self) -> Vec<EthDev> {
        let mut devices = Vec::new();
        // SAFETY: rte_eth_find_next only reads the ethdev table of the running EAL.
        let mut id = unsafe { ffi::rte_eth_find_next(0) };
        while u32::from(id) < ffi::RTE_MAX_ETHPORTS {
            let mut name = [0 as c_char; ffi::RTE_ETH_NAME_MAX_LEN as usize];
            // SAFETY: `name` has the RTE_ETH_NAME_MAX_LEN bytes the function may write,
            // NUL terminator included.
            let rc = unsafe { ffi::rte_eth_dev_get_name_by_port(id, name.as_mut_ptr()) };
            if rc == 0 {
                // SAFETY: on success the name is NUL-terminated within the buffer.
                let name = unsafe { CStr::from_ptr(name.as_ptr()) };
                devices.push(EthDev {
                    port_id: id,
                    name: name.to_string_lossy().into_owned(),
                });
            }
            // SAFETY: as above.
            id = unsafe { ffi::rte_eth_find_next(id + 1) };
        }
        devices
    }
}

/// Runs `rte_eal_init` with `args`.
fn start(args: &[String]) -> Result<Eal, DpdkError> {
    let fail = |message: String| DpdkError::EalInit {
        args: args.to_vec(),
        message,
    };
    let mut argv: Vec<*mut c_char> = Vec::with_capacity(args.len() + 1);
    for arg in args {
        let c = CString::new(arg.as_str())
            .map_err(|_| fail(format!("the argument `{arg}` holds a NUL byte")))?;
        // The EAL may keep pointers into its arguments for the life of the process,
        // so they are never freed.
        argv.push(c.into_raw());
    }
    argv.push(std::ptr::null_mut());
    let argv: &'static mut [*mut c_char] = Box::leak(argv.into_boxed_slice());
    let argc = i32::try_from(args.len()).map_err(|_| fail("too many arguments".into()))?;
    // SAFETY: argv holds argc valid NUL-terminated strings followed by a null pointer,
    // all leaked so they outlive the EAL; rte_eal_init may reorder the array.
    let rc = unsafe { ffi::rte_eal_init(argc, argv.as_mut_ptr()) };
    if rc < 0 {
        let errno = ffi::last_errno();
        let hint = match errno {
            libc::EINVAL => {
                ": an argument is wrong (the EAL names it above; eal.toml's options are \
                 listed by `das dpdk-config`)"
            }
            libc::ENOMEM | libc::EACCES => {
                ": no memory for the EAL: without hugepages set no_huge = true and \
                 memory_mb = 512 in eal.toml; with them, reserve some first \
                 (echo 512 > /proc/sys/vm/nr_hugepages) and mount hugetlbfs"
            }
            libc::EALREADY => ": the EAL was already started in this process",
            libc::EPROTO | libc::ENODEV | libc::ENOEXEC => {
                ": a device or driver could not be set up (see the EAL's messages above)"
            }
            _ => "",
        };
        return Err(fail(format!("{}{hint}", ffi::error_message(errno))));
    }
    Ok(Eal {
        args: args.to_vec(),
    })
}
