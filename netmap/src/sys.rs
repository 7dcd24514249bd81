//! The part of the netmap API (version 14) the port uses, as `#[repr(C)]` definitions
//! taken from netmap's `sys/net/netmap.h` and the ring-walking macros of
//! `sys/net/netmap_user.h`.
//!
//! - `/dev/netmap` is a control device. `NIOCCTRL` with a [`NmReqHeader`] of type
//!   [`NETMAP_REQ_REGISTER`] and a [`NmReqRegister`] body binds the descriptor to rings
//!   of an interface and returns where its [`NetmapIf`] lies in the shared region and
//!   how large the region is; the region is then mapped with `mmap` on the descriptor.
//! - The [`NetmapIf`] is followed by the offsets (from itself) of every ring: NIC tx
//!   rings, host tx rings, NIC rx rings, host rx rings. A ring the descriptor is not
//!   bound to has offset 0.
//! - A [`NetmapRing`] (256 bytes) is followed by its [`NetmapSlot`]s. Slots
//!   `[head, tail)` belong to user space; buffer `i` lies at
//!   `ring + buf_ofs + i * nr_buf_size`. `NIOCTXSYNC` / `NIOCRXSYNC` hand the slots
//!   before `head` back to the kernel and move `tail`.
//!
//! Every field keeps its C name, so the header and this module read alike.

use std::mem::size_of;

/// The API version this port speaks (`NETMAP_API`); the kernel refuses others.
pub const NETMAP_API: u16 = 14;

/// Bytes of an interface name in a request, NUL included (`NETMAP_REQ_IFNAMSIZ`).
pub const NETMAP_REQ_IFNAMSIZ: usize = 64;

/// Bytes of an interface name in a [`NetmapIf`] (`IFNAMSIZ`).
pub const IFNAMSIZ: usize = 16;

/// `nr_reqtype` of a registration.
pub const NETMAP_REQ_REGISTER: u16 = 1;

/// `nr_mode`: bind one NIC ring pair, the one named by `nr_ringid`.
pub const NR_REG_ONE_NIC: u32 = 4;

/// `nr_flags`: bind only the receive ring of the pair.
pub const NR_RX_RINGS_ONLY: u64 = 0x2000;

/// `nr_flags`: bind only the transmit ring of the pair.
pub const NR_TX_RINGS_ONLY: u64 = 0x4000;

/// Slot flag: the packet continues in the next slot (multi-slot frames).
pub const NS_MOREFRAG: u16 = 0x0020;

/// `netmap_ring.dir` of a transmit ring.
pub const NR_DIR_TX: u16 = 0;

/// `netmap_ring.dir` of a receive ring.
pub const NR_DIR_RX: u16 = 1;

/// `struct netmap_slot`: one buffer descriptor of a ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NetmapSlot {
    /// Index of the slot's buffer.
    pub buf_idx: u32,
    /// Bytes of the frame (or fragment) in the buffer.
    pub len: u16,
    /// `NS_*` flags.
    pub flags: u16,
    /// Pointer for indirect buffers (VALE only).
    pub ptr: u64,
}

/// The cache-line aligned `sem[128]` of a ring: it puts the slots at offset 256.
#[repr(C, align(128))]
#[derive(Debug)]
pub struct NetmapSem(pub [u8; 128]);

/// `struct netmap_ring`: the header of one ring, followed by `num_slots` slots.
///
/// Newer headers put `offset_mask` and `buf_align` (two `uint64_t`) after `ts`; they
/// fall in the padding before `sem` and leave every offset here unchanged.
#[repr(C)]
#[derive(Debug)]
pub struct NetmapRing {
    /// Offset of the buffer area from this header.
    pub buf_ofs: i64,
    /// Slots in the ring.
    pub num_slots: u32,
    /// Bytes of each buffer.
    pub nr_buf_size: u32,
    /// Ring index.
    pub ringid: u16,
    /// [`NR_DIR_TX`] or [`NR_DIR_RX`].
    pub dir: u16,
    /// First slot user space owns (user space moves it).
    pub head: u32,
    /// Wake-up point (user space moves it; kept equal to `head` here).
    pub cur: u32,
    /// First slot the kernel owns (the kernel moves it, during a sync).
    pub tail: u32,
    /// `NR_*` ring flags.
    pub flags: u32,
    /// Time of the last sync, when `NR_TIMESTAMP` is set.
    pub ts: libc::timeval,
    /// Room for a lock, cache-line aligned.
    pub sem: NetmapSem,
    /// The slots follow.
    pub slot: [NetmapSlot; 0],
}

/// `struct netmap_if`: the interface as bound to one descriptor, followed by the ring
/// offsets (`ssize_t ring_ofs[]`).
#[repr(C)]
#[derive(Debug)]
pub struct NetmapIf {
    /// Interface name.
    pub ni_name: [libc::c_char; IFNAMSIZ],
    /// API version.
    pub ni_version: u32,
    /// `NI_*` flags.
    pub ni_flags: u32,
    /// NIC transmit rings.
    pub ni_tx_rings: u32,
    /// NIC receive rings.
    pub ni_rx_rings: u32,
    /// Head of the list of extra buffers.
    pub ni_bufs_head: u32,
    /// Host-stack transmit rings.
    pub ni_host_tx_rings: u32,
    /// Host-stack receive rings.
    pub ni_host_rx_rings: u32,
    /// Reserved.
    pub ni_spare1: [u32; 3],
    /// The ring offsets follow.
    pub ring_ofs: [isize; 0],
}

/// `struct nmreq_header`: the header of every `NIOCCTRL` request.
#[repr(C)]
#[derive(Debug)]
pub struct NmReqHeader {
    /// API version; the kernel writes its own back.
    pub nr_version: u16,
    /// `NETMAP_REQ_*`.
    pub nr_reqtype: u16,
    /// Must be zero.
    pub nr_reserved: u32,
    /// Port name, NUL-terminated.
    pub nr_name: [libc::c_char; NETMAP_REQ_IFNAMSIZ],
    /// Address of the first option, or 0.
    pub nr_options: u64,
    /// Address of the request body.
    pub nr_body: u64,
}

/// `struct nmreq_register`: the body of a [`NETMAP_REQ_REGISTER`] request.
#[repr(C)]
#[derive(Debug, Default)]
pub struct NmReqRegister {
    /// (out) Offset of the [`NetmapIf`] in the shared region.
    pub nr_offset: u64,
    /// (out) Bytes of the shared region.
    pub nr_memsize: u64,
    /// Slots per transmit ring.
    pub nr_tx_slots: u32,
    /// Slots per receive ring.
    pub nr_rx_slots: u32,
    /// Transmit rings.
    pub nr_tx_rings: u16,
    /// Receive rings.
    pub nr_rx_rings: u16,
    /// Host transmit rings.
    pub nr_host_tx_rings: u16,
    /// Host receive rings.
    pub nr_host_rx_rings: u16,
    /// Memory allocator (0: the kernel chooses).
    pub nr_mem_id: u16,
    /// The ring to bind with [`NR_REG_ONE_NIC`].
    pub nr_ringid: u16,
    /// `NR_REG_*`.
    pub nr_mode: u32,
    /// Extra buffers asked for.
    pub nr_extra_bufs: u32,
    /// `NR_*` flags.
    pub nr_flags: u64,
}

/// Linux `_IOWR(ty, nr, size)`.
const fn iowr(ty: u8, nr: u8, size: usize) -> libc::Ioctl {
    (3 << 30) | ((size as libc::Ioctl) << 16) | ((ty as libc::Ioctl) << 8) | nr as libc::Ioctl
}

/// Linux `_IO(ty, nr)`.
const fn io(ty: u8, nr: u8) -> libc::Ioctl {
    ((ty as libc::Ioctl) << 8) | nr as libc::Ioctl
}

/// `NIOCCTRL`: every request of the current API, `_IOWR('i', 151, struct nmreq_header)`.
pub const NIOCCTRL: libc::Ioctl = iowr(b'i', 151, size_of::<NmReqHeader>());

/// `NIOCTXSYNC`: pushes the bound transmit ring's slots before `head` to the NIC and
/// moves `tail` past the slots sent.
pub const NIOCTXSYNC: libc::Ioctl = io(b'i', 148);

/// `NIOCRXSYNC`: hands the bound receive ring's slots before `head` back and moves
/// `tail` past the frames received.
pub const NIOCRXSYNC: libc::Ioctl = io(b'i', 149);

/// `nm_ring_next`: the slot after `i` in a ring of `num_slots`.
#[inline]
pub fn ring_next(i: u32, num_slots: u32) -> u32 {
    if i + 1 == num_slots { 0 } else { i + 1 }
}

/// Slots from `from` up to (not including) `to` in a ring of `num_slots`: what
/// `nm_ring_space` computes from `cur` and `tail`.
#[inline]
pub fn ring_distance(from: u32, to: u32, num_slots: u32) -> u32 {
    if to >= from {
        to - from
    } else {
        to + num_slots - from
    }
}

/// The index in `ring_ofs` of NIC ring `ring`, as `NETMAP_TXRING` and `NETMAP_RXRING`
/// of API 14 compute it (receive rings come after every transmit ring, host ones
/// included).
pub fn ring_ofs_index(nifp: &NetmapIf, ring: u32, rx: bool) -> usize {
    let base = if rx {
        nifp.ni_tx_rings + nifp.ni_host_tx_rings
    } else {
        0
    };
    (base + ring) as usize
}

/// Entries in `ring_ofs` of `nifp`.
pub fn ring_ofs_len(nifp: &NetmapIf) -> usize {
    (nifp.ni_tx_rings + nifp.ni_host_tx_rings + nifp.ni_rx_rings + nifp.ni_host_rx_rings) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of};

    /// Sizes and offsets as netmap.h lays them out on a 64-bit Linux machine.
    #[test]
    fn layouts_match_the_header() {
        assert_eq!(size_of::<NetmapSlot>(), 16);
        assert_eq!(offset_of!(NetmapSlot, buf_idx), 0);
        assert_eq!(offset_of!(NetmapSlot, len), 4);
        assert_eq!(offset_of!(NetmapSlot, flags), 6);
        assert_eq!(offset_of!(NetmapSlot, ptr), 8);

        assert_eq!(offset_of!(NetmapRing, buf_ofs), 0);
        assert_eq!(offset_of!(NetmapRing, num_slots), 8);
        assert_eq!(offset_of!(NetmapRing, nr_buf_size), 12);
        assert_eq!(offset_of!(NetmapRing, ringid), 16);
        assert_eq!(offset_of!(NetmapRing, dir), 18);
        assert_eq!(offset_of!(NetmapRing, head), 20);
        assert_eq!(offset_of!(NetmapRing, cur), 24);
        assert_eq!(offset_of!(NetmapRing, tail), 28);
        assert_eq!(offset_of!(NetmapRing, flags), 32);
        assert_eq!(offset_of!(NetmapRing, ts), 40);
        assert_eq!(offset_of!(NetmapRing, sem), 128);
        assert_eq!(offset_of!(NetmapRing, slot), 256);
        assert_eq!(size_of::<NetmapRing>(), 256);
        assert_eq!(align_of::<NetmapRing>(), 128);

        assert_eq!(offset_of!(NetmapIf, ni_name), 0);
        assert_eq!(offset_of!(NetmapIf, ni_version), 16);
        assert_eq!(offset_of!(NetmapIf, ni_flags), 20);
        assert_eq!(offset_of!(NetmapIf, ni_tx_rings), 24);
        assert_eq!(offset_of!(NetmapIf, ni_rx_rings), 28);
        assert_eq!(offset_of!(NetmapIf, ni_bufs_head), 32);
        assert_eq!(offset_of!(NetmapIf, ni_host_tx_rings), 36);
        assert_eq!(offset_of!(NetmapIf, ni_host_rx_rings), 40);
        assert_eq!(offset_of!(NetmapIf, ni_spare1), 44);
        assert_eq!(offset_of!(NetmapIf, ring_ofs), 56);
        assert_eq!(size_of::<NetmapIf>(), 56);

        assert_eq!(offset_of!(NmReqHeader, nr_version), 0);
        assert_eq!(offset_of!(NmReqHeader, nr_reqtype), 2);
        assert_eq!(offset_of!(NmReqHeader, nr_reserved), 4);
        assert_eq!(offset_of!(NmReqHeader, nr_name), 8);
        assert_eq!(offset_of!(NmReqHeader, nr_options), 72);
        assert_eq!(offset_of!(NmReqHeader, nr_body), 80);
        assert_eq!(size_of::<NmReqHeader>(), 88);

        assert_eq!(offset_of!(NmReqRegister, nr_offset), 0);
        assert_eq!(offset_of!(NmReqRegister, nr_memsize), 8);
        assert_eq!(offset_of!(NmReqRegister, nr_tx_slots), 16);
        assert_eq!(offset_of!(NmReqRegister, nr_rx_slots), 20);
        assert_eq!(offset_of!(NmReqRegister, nr_tx_rings), 24);
        assert_eq!(offset_of!(NmReqRegister, nr_rx_rings), 26);
        assert_eq!(offset_of!(NmReqRegister, nr_host_tx_rings), 28);
        assert_eq!(offset_of!(NmReqRegister, nr_host_rx_rings), 30);
        assert_eq!(offset_of!(NmReqRegister, nr_mem_id), 32);
        assert_eq!(offset_of!(NmReqRegister, nr_ringid), 34);
        assert_eq!(offset_of!(NmReqRegister, nr_mode), 36);
        assert_eq!(offset_of!(NmReqRegister, nr_extra_bufs), 40);
        assert_eq!(offset_of!(NmReqRegister, nr_flags), 48);
        assert_eq!(size_of::<NmReqRegister>(), 56);
    }

    #[test]
    fn ioctl_numbers_match_the_header() {
        // _IOWR('i', 151, struct nmreq_header), _IO('i', 148), _IO('i', 149).
        assert_eq!(NIOCCTRL, 0xC058_6997);
        assert_eq!(NIOCTXSYNC, 0x6994);
        assert_eq!(NIOCRXSYNC, 0x6995);
    }

    #[test]
    fn ring_arithmetic_wraps() {
        assert_eq!(ring_next(0, 4), 1);
        assert_eq!(ring_next(3, 4), 0);
        assert_eq!(ring_distance(1, 3, 4), 2);
        assert_eq!(ring_distance(3, 1, 4), 2);
        assert_eq!(ring_distance(2, 2, 4), 0);
        let nifp = NetmapIf {
            ni_name: [0; IFNAMSIZ],
            ni_version: 14,
            ni_flags: 0,
            ni_tx_rings: 4,
            ni_rx_rings: 4,
            ni_bufs_head: 0,
            ni_host_tx_rings: 1,
            ni_host_rx_rings: 1,
            ni_spare1: [0; 3],
            ring_ofs: [],
        };
        assert_eq!(ring_ofs_index(&nifp, 2, false), 2);
        assert_eq!(ring_ofs_index(&nifp, 2, true), 7);
        assert_eq!(ring_ofs_len(&nifp), 10);
    }

    /// Where the netmap headers are installed, if anywhere: `$NETMAP_INCLUDE`, or a
    /// system include directory holding `net/netmap.h`.
    fn header_dir() -> Option<std::path::PathBuf> {
        if let Some(dir) = std::env::var_os("NETMAP_INCLUDE") {
            return Some(dir.into());
        }
        ["/usr/include", "/usr/local/include"]
            .iter()
            .map(std::path::PathBuf::from)
            .find(|d| d.join("net/netmap.h").exists())
    }

    /// Compiles a C program against the installed netmap.h and compares the compiler's
    /// sizes and offsets with these definitions.
    #[test]
    fn layouts_match_the_installed_header() {
        let Some(include) = header_dir() else {
            eprintln!(
                "skipped: no netmap headers here (set NETMAP_INCLUDE to a folder holding net/netmap.h)"
            );
            return;
        };
        let checks: Vec<(&str, usize)> = vec![
            ("sizeof(struct netmap_slot)", size_of::<NetmapSlot>()),
            ("sizeof(struct netmap_ring)", size_of::<NetmapRing>()),
            ("sizeof(struct netmap_if)", size_of::<NetmapIf>()),
            ("sizeof(struct nmreq_header)", size_of::<NmReqHeader>()),
            ("sizeof(struct nmreq_register)", size_of::<NmReqRegister>()),
            (
                "offsetof(struct netmap_ring, buf_ofs)",
                offset_of!(NetmapRing, buf_ofs),
            ),
            (
                "offsetof(struct netmap_ring, num_slots)",
                offset_of!(NetmapRing, num_slots),
            ),
            (
                "offsetof(struct netmap_ring, nr_buf_size)",
                offset_of!(NetmapRing, nr_buf_size),
            ),
            (
                "offsetof(struct netmap_ring, dir)",
                offset_of!(NetmapRing, dir),
            ),
            (
                "offsetof(struct netmap_ring, head)",
                offset_of!(NetmapRing, head),
            ),
            (
                "offsetof(struct netmap_ring, cur)",
                offset_of!(NetmapRing, cur),
            ),
            (
                "offsetof(struct netmap_ring, tail)",
                offset_of!(NetmapRing, tail),
            ),
            (
                "offsetof(struct netmap_ring, ts)",
                offset_of!(NetmapRing, ts),
            ),
            (
                "offsetof(struct netmap_ring, sem)",
                offset_of!(NetmapRing, sem),
            ),
            (
                "offsetof(struct netmap_ring, slot)",
                offset_of!(NetmapRing, slot),
            ),
            (
                "offsetof(struct netmap_if, ni_tx_rings)",
                offset_of!(NetmapIf, ni_tx_rings),
            ),
            (
                "offsetof(struct netmap_if, ni_rx_rings)",
                offset_of!(NetmapIf, ni_rx_rings),
            ),
            (
                "offsetof(struct netmap_if, ni_host_tx_rings)",
                offset_of!(NetmapIf, ni_host_tx_rings),
            ),
            (
                "offsetof(struct netmap_if, ni_host_rx_rings)",
                offset_of!(NetmapIf, ni_host_rx_rings),
            ),
            (
                "offsetof(struct netmap_if, ring_ofs)",
                offset_of!(NetmapIf, ring_ofs),
            ),
            (
                "offsetof(struct nmreq_header, nr_name)",
                offset_of!(NmReqHeader, nr_name),
            ),
            (
                "offsetof(struct nmreq_header, nr_body)",
                offset_of!(NmReqHeader, nr_body),
            ),
            (
                "offsetof(struct nmreq_register, nr_ringid)",
                offset_of!(NmReqRegister, nr_ringid),
            ),
            (
                "offsetof(struct nmreq_register, nr_mode)",
                offset_of!(NmReqRegister, nr_mode),
            ),
            (
                "offsetof(struct nmreq_register, nr_flags)",
                offset_of!(NmReqRegister, nr_flags),
            ),
            ("NETMAP_API", usize::from(NETMAP_API)),
            ("NETMAP_REQ_REGISTER", usize::from(NETMAP_REQ_REGISTER)),
            ("NR_REG_ONE_NIC", NR_REG_ONE_NIC as usize),
            ("NR_RX_RINGS_ONLY", NR_RX_RINGS_ONLY as usize),
            ("NR_TX_RINGS_ONLY", NR_TX_RINGS_ONLY as usize),
            ("NS_MOREFRAG", usize::from(NS_MOREFRAG)),
            ("NIOCCTRL", NIOCCTRL as usize),
            ("NIOCTXSYNC", NIOCTXSYNC as usize),
            ("NIOCRXSYNC", NIOCRXSYNC as usize),
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut program = String::from(
            "#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n\
             #include <sys/ioctl.h>\n#include <sys/types.h>\n#include <sys/time.h>\n\
             #include <net/if.h>\n#include <net/netmap.h>\nint main(void) {\n",
        );
        for (expr, _) in &checks {
            program += &format!("    printf(\"%lu\\n\", (unsigned long)({expr}));\n");
        }
        program += "    return 0;\n}\n";
        let source = dir.path().join("layout.c");
        let binary = dir.path().join("layout");
        std::fs::write(&source, program).unwrap();
        let cc = std::process::Command::new("cc")
            .arg("-I")
            .arg(&include)
            .arg(&source)
            .arg("-o")
            .arg(&binary)
            .output()
            .expect("cc runs");
        assert!(
            cc.status.success(),
            "compiling against {}/net/netmap.h failed:\n{}",
            include.display(),
            String::from_utf8_lossy(&cc.stderr)
        );
        let out = std::process::Command::new(&binary).output().unwrap();
        let values: Vec<usize> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(values.len(), checks.len());
        for ((expr, ours), theirs) in checks.iter().zip(values) {
            assert_eq!(*ours, theirs, "{expr}: {ours} here, {theirs} in netmap.h");
        }
        eprintln!(
            "{} sizes, offsets and constants agree with {}/net/netmap.h",
            checks.len(),
            include.display()
        );
    }
}
