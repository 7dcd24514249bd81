//! What the EAL needs from the machine and the process, checked before it starts: when
//! it lacks them, DPDK itself answers with several log lines and a bare errno, or
//! starts without the device, whose port then cannot open.

use std::path::Path;

use dataplane::dpdk_config::EalConfig;

use crate::error::DpdkError;

/// Capabilities (bit numbers of `linux/capability.h`) that drivers of virtual devices
/// need.
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// Checks that hugepages are reserved when `config` asks for them, and that the
/// process holds the capabilities its kernel-backed virtual devices need and their
/// interfaces exist.
pub(crate) fn check(config: &EalConfig) -> Result<(), DpdkError> {
    if !config.no_huge && reserved_hugepages(Path::new("/sys/kernel/mm/hugepages")) == Some(0) {
        return Err(DpdkError::Unmet(
            "eal.toml sets no_huge = false but this machine has no hugepages reserved: \
             reserve some (echo 512 > /proc/sys/vm/nr_hugepages) and mount hugetlbfs, or \
             set no_huge = true"
                .into(),
        ));
    }
    let held = effective_capabilities();
    let interfaces = std::fs::read_to_string("/proc/net/dev").ok();
    for vdev in &config.vdevs {
        if let Some(missing) = held.and_then(|held| missing_capabilities(vdev, held)) {
            return Err(DpdkError::Unmet(format!(
                "virtual device `{vdev}` needs {missing}, which this process lacks: run as \
                 root"
            )));
        }
        if let (Some(iface), Some(table)) = (interface_of(vdev), &interfaces)
            && !has_interface(table, iface)
        {
            return Err(DpdkError::Unmet(format!(
                "virtual device `{vdev}`: no interface named `{iface}` in this network \
                 namespace (see `ip link`)"
            )));
        }
    }
    Ok(())
}

/// The `iface=` argument of a virtual device on a kernel interface.
fn interface_of(vdev: &str) -> Option<&str> {
    let mut parts = vdev.split(',');
    let driver = parts.next()?;
    let on_kernel = ["net_af_packet", "eth_af_packet", "net_af_xdp"]
        .iter()
        .any(|d| driver.starts_with(d));
    on_kernel
        .then(|| parts.find_map(|p| p.strip_prefix("iface=")))
        .flatten()
}

/// Whether a `/proc/net/dev` table (the process's network namespace) lists `iface`.
fn has_interface(table: &str, iface: &str) -> bool {
    table
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .any(|(name, _)| name.trim() == iface)
}

/// Hugepages reserved in every size (`None` when the kernel does not say).
fn reserved_hugepages(sizes: &Path) -> Option<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(sizes).ok()? {
        let path = entry.ok()?.path().join("nr_hugepages");
        total += std::fs::read_to_string(path)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
    }
    Some(total)
}

/// The process's effective capabilities, as a bit set (`None` when unknown).
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The capabilities `vdev`'s driver needs and `held` lacks, in words.
fn missing_capabilities(vdev: &str, held: u64) -> Option<&'static str> {
    let has = |cap: u32| held & (1 << cap) != 0;
    let driver = vdev.split(',').next().unwrap_or_default();
    let kind = |prefix: &str| {
        driver.starts_with(&format!("net_{prefix}")) || driver.starts_with(&format!("eth_{prefix}"))
    };
    if kind("af_packet") && !has(CAP_NET_RAW) {
        Some("CAP_NET_RAW")
    } else if kind("af_xdp")
        && !(has(CAP_NET_RAW) && has(CAP_NET_ADMIN) && (has(CAP_BPF) || has(CAP_SYS_ADMIN)))
    {
        Some("CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF")
    } else if (kind("tap") || kind("tun")) && !has(CAP_NET_ADMIN) {
        Some("CAP_NET_ADMIN")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_come_from_proc_status() {
        let status = "Name:\tdas\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
        assert_eq!(parse_cap_eff(status), Some(0x1ff_ffff_ffff));
        assert_eq!(parse_cap_eff("Name:\tdas\n"), None);
        assert!(effective_capabilities().is_some(), "this process's own");
    }

    #[test]
    fn kernel_backed_devices_need_their_capabilities() {
        let all = u64::MAX;
        let raw = 1 << CAP_NET_RAW;
        for vdev in ["net_ring0", "net_null0", "net_memif0,role=server"] {
            assert_eq!(missing_capabilities(vdev, 0), None, "{vdev}");
        }
        assert_eq!(
            missing_capabilities("net_af_packet0,iface=eth0", 0),
            Some("CAP_NET_RAW")
        );
        assert_eq!(missing_capabilities("net_af_packet0,iface=eth0", raw), None);
        assert_eq!(
            missing_capabilities("net_af_xdp0,iface=eth0", raw),
            Some("CAP_NET_RAW, CAP_NET_ADMIN and CAP_BPF")
        );
        assert_eq!(missing_capabilities("net_af_xdp0,iface=eth0", all), None);
        assert_eq!(missing_capabilities("net_tap0", raw), Some("CAP_NET_ADMIN"));
    }

    #[test]
    fn kernel_backed_devices_name_an_existing_interface() {
        assert_eq!(
            interface_of("net_af_packet0,iface=eth0,qpairs=1"),
            Some("eth0")
        );
        assert_eq!(
            interface_of("net_af_xdp1,start_queue=0,iface=pb"),
            Some("pb")
        );
        assert_eq!(interface_of("net_ring0"), None);
        assert_eq!(interface_of("net_memif0,iface=x"), None);
        let table = "Inter-|   Receive\n face |bytes\n    lo: 1 2 3\n  pb: 4 5 6\n";
        assert!(has_interface(table, "pb") && has_interface(table, "lo"));
        assert!(!has_interface(table, "p") && !has_interface(table, "face"));
    }

    #[test]
    fn hugepages_are_summed_over_sizes() {
        let dir = std::env::temp_dir().join(format!("das-dpdk-hugepages-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(reserved_hugepages(&dir), Some(0));
        for (size, n) in [("hugepages-2048kB", "3\n"), ("hugepages-1048576kB", "1\n")] {
            std::fs::create_dir(dir.join(size)).unwrap();
            std::fs::write(dir.join(size).join("nr_hugepages"), n).unwrap();
        }
        assert_eq!(reserved_hugepages(&dir), Some(4));
        assert_eq!(reserved_hugepages(&dir.join("none")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
