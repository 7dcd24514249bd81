//! What the kernel counts for a `net_af_packet` device and DPDK does not.
//!
//! DPDK's `net_af_packet` driver receives through one AF_PACKET socket per queue pair,
//! each with a TPACKET_V2 ring that the kernel fills. When a ring is full the kernel
//! drops the frame and counts it on the socket (`PACKET_STATISTICS`), but the driver's
//! `rte_eth_stats` never read that counter: without it, frames lost on a busy receiver
//! would vanish uncounted. The sockets belong to the driver; they are found among this
//! process's file descriptors by what the driver made of them: bound to the device's
//! interface and members of the fanout group it names after the process id and the
//! interface index.
#![allow(unsafe_code)]

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// The receive rings of a `net_af_packet` device and the frames their sockets dropped.
#[derive(Debug, Default)]
pub(crate) struct KernelRings {
    fds: Vec<RawFd>,
    /// Drops read so far (reading `PACKET_STATISTICS` resets the socket's counter).
    dropped: AtomicU64,
}

impl KernelRings {
    /// The sockets the `net_af_packet` driver of this process opened on the interface
    /// with index `ifindex` (none found: an empty set, which counts nothing).
    pub(crate) fn find(ifindex: u32) -> KernelRings {
        let Ok(ifindex) = i32::try_from(ifindex) else {
            return KernelRings::default();
        };
        // The fanout group id the driver gives every socket of the device.
        let group = (std::process::id() as i32 ^ ifindex) & 0xffff;
        let fds = std::fs::read_dir("/proc/self/fd")
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
                    .filter(|&fd| is_driver_socket(fd, ifindex, group))
                    .collect()
            })
            .unwrap_or_default();
        KernelRings {
            fds,
            dropped: AtomicU64::new(0),
        }
    }

    /// How many sockets were found.
    pub(crate) fn sockets(&self) -> usize {
        self.fds.len()
    }

    /// Frames the kernel dropped at the sockets' rings since they were found.
    pub(crate) fn dropped(&self) -> u64 {
        let new: u64 = self.fds.iter().map(|&fd| take_drops(fd)).sum();
        self.dropped.fetch_add(new, Ordering::Relaxed) + new
    }
}

/// Reads an `int` socket option; `None` when the call fails.
fn int_option(fd: RawFd, level: libc::c_int, name: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid out-parameters of the sizes given; an fd that
    // is not a socket (or not of this family) makes the call fail, nothing else.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}

/// Whether `fd` is an AF_PACKET socket bound to interface `ifindex` in fanout group
/// `group`.
fn is_driver_socket(fd: RawFd, ifindex: i32, group: i32) -> bool {
    if int_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN) != Some(libc::AF_PACKET) {
        return false;
    }
    // SAFETY: sockaddr_ll is plain data, valid when zeroed.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: `addr` and `len` are valid out-parameters of the size given.
    let rc =
        unsafe { libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_ll).cast(), &mut len) };
    if rc != 0 || addr.sll_ifindex != ifindex {
        return false;
    }
    int_option(fd, libc::SOL_PACKET, libc::PACKET_FANOUT).is_some_and(|f| f & 0xffff == group)
}

/// The frames socket `fd` dropped since the last read (the read resets the count).
fn take_drops(fd: RawFd) -> u64 {
    // SAFETY: tpacket_stats is plain data, valid when zeroed.
    let mut stats: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `stats` and `len` are valid out-parameters of the size given; the socket
    // is the driver's and stays open while the device is (the device's owner calls
    // this only then).
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        u64::from(stats.tp_drops)
    } else {
        0
    }
}
