//! The AF_PACKET socket calls the receive and transmit queues share: open, options,
//! classic BPF filters, bind, statistics.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `ETH_P_ALL` in network byte order: every protocol.
const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// An open AF_PACKET raw socket that receives nothing until [`bind`] names a protocol.
pub(super) fn open_raw() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new descriptor
    // that nothing else owns.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The index of interface `name` in this network namespace.
pub(super) fn interface_index(name: &str) -> Option<i32> {
    let c_name = CString::new(name).ok()?;
    // SAFETY: `c_name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    (index != 0).then_some(index as i32)
}

/// Sets an integer socket option at the packet level.
pub(super) fn set_packet_option(
    fd: &OwnedFd,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(fd, libc::SOL_PACKET, option, &value)
}

/// Sets a socket option whose value is `value`'s bytes.
pub(super) fn set_option<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    option: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the size passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Binds the socket to interface `ifindex`; with `receive`, it then receives frames of
/// every protocol (that its filter accepts), otherwise none.
pub(super) fn bind(fd: &OwnedFd, ifindex: i32, receive: bool) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = if receive { ETH_P_ALL_BE } else { 0 };
    addr.sll_ifindex = ifindex;
    // SAFETY: `addr` is a valid sockaddr_ll of the length passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// One classic BPF instruction.
type Insn = libc::sock_filter;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    libc::sock_filter { code, jt, jf, k }
}

const LD_H_ABS: u16 = 0x28;
const LD_W_ABS: u16 = 0x20;
const LD_B_ABS: u16 = 0x30;
const JEQ_K: u16 = 0x15;
const RET_K: u16 = 0x06;
/// What an accepting filter returns: the most bytes kept of a frame.
const ACCEPT: u32 = 0x0004_0000;

/// Which frames a receive socket takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every frame.
    All,
    /// Frames carrying das job metadata (EtherType 0x894F and an outer destination MAC
    /// `02:44:41:53:NN:QQ`), whatever their queue.
    Das,
    /// das frames whose outer destination MAC names queue `QQ` = the value.
    DasQueue(u8),
    /// Completion-notice frames (EtherType 0x88B5, outer MAC prefix `02:44:41:53`):
    /// dedup's purge requests to a node.
    Notices,
    /// Node status frames (EtherType 0x88B6, outer MAC prefix `02:44:41:53`): a node's
    /// heartbeat to the duplicator.
    Status,
}

impl Filter {
    /// The classic BPF program, or `None` for [`Filter::All`].
    pub(super) fn program(self) -> Option<Vec<Insn>> {
        let ethertype = u32::from(crate::meta::ETHERTYPE_NSH);
        let prefix = u32::from_be_bytes(crate::meta::DAS_MAC_PREFIX);
        let of_type = match self {
            Filter::Notices => u32::from(crate::completion::NOTICE_ETHERTYPE),
            Filter::Status => u32::from(crate::status::STATUS_ETHERTYPE),
            _ => ethertype,
        };
        match self {
            Filter::All => None,
            // 0 ldh [12]; 1 jeq TYPE else 5; 2 ld [0]; 3 jeq prefix else 5; 4 accept; 5 drop
            Filter::Das | Filter::Notices | Filter::Status => Some(vec![
                insn(LD_H_ABS, 0, 0, 12),
                insn(JEQ_K, 0, 3, of_type),
                insn(LD_W_ABS, 0, 0, 0),
                insn(JEQ_K, 0, 1, prefix),
                insn(RET_K, 0, 0, ACCEPT),
                insn(RET_K, 0, 0, 0),
            ]),
            // As Das, then 4 ldb [5]; 5 jeq queue else 7; 6 accept; 7 drop.
            Filter::DasQueue(queue) => Some(vec![
                insn(LD_H_ABS, 0, 0, 12),
                insn(JEQ_K, 0, 5, ethertype),
                insn(LD_W_ABS, 0, 0, 0),
                insn(JEQ_K, 0, 3, prefix),
                insn(LD_B_ABS, 0, 0, 5),
                insn(JEQ_K, 0, 1, u32::from(queue)),
                insn(RET_K, 0, 0, ACCEPT),
                insn(RET_K, 0, 0, 0),
            ]),
        }
    }

    /// Whether the filter accepts `frame`: the decision the kernel makes with the
    /// socket's BPF program, in plain code (the reference the programs are tested
    /// against; a socket never sees a frame its filter refused, since the filter is
    /// attached before the socket is bound).
    pub fn accepts(self, frame: &[u8]) -> bool {
        let of_type = |ethertype: u16| {
            frame.len() >= 14
                && u16::from_be_bytes([frame[12], frame[13]]) == ethertype
                && frame[..4] == crate::meta::DAS_MAC_PREFIX
        };
        let das = of_type(crate::meta::ETHERTYPE_NSH);
        match self {
            Filter::All => true,
            Filter::Das => das,
            Filter::DasQueue(queue) => das && frame[5] == queue,
            Filter::Notices => of_type(crate::completion::NOTICE_ETHERTYPE),
            Filter::Status => of_type(crate::status::STATUS_ETHERTYPE),
        }
    }
}

/// Attaches `filter`'s program to the socket.
pub(super) fn attach_filter(fd: &OwnedFd, filter: Filter) -> io::Result<()> {
    let Some(mut program) = filter.program() else {
        return Ok(());
    };
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    set_option(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

/// Frames the kernel dropped for this socket since the last call (its ring was full).
/// Reading resets the kernel's count.
pub(super) fn take_drops(fd: &OwnedFd) -> io::Result<u64> {
    // SAFETY: plain data; zeroes are valid.
    let mut stats: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
    // SAFETY: `stats` and `len` are live and `len` is the size of `stats`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats_v3).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(stats.tp_drops))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small interpreter of the instructions the filters use, so the programs are
    /// checked against [`Filter::accepts`] without a kernel.
    fn run(program: &[Insn], frame: &[u8]) -> bool {
        let mut pc = 0;
        let mut acc: u32 = 0;
        loop {
            let i = program[pc];
            let k = i.k as usize;
            let load = |n: usize| {
                frame
                    .get(k..k + n)
                    .map(|b| b.iter().fold(0u32, |a, &x| a << 8 | u32::from(x)))
            };
            match i.code {
                LD_H_ABS | LD_W_ABS | LD_B_ABS => {
                    let n = match i.code {
                        LD_H_ABS => 2,
                        LD_W_ABS => 4,
                        _ => 1,
                    };
                    match load(n) {
                        Some(v) => acc = v,
                        None => return false, // out of bounds: the kernel drops
                    }
                    pc += 1;
                }
                JEQ_K => pc += 1 + usize::from(if acc == i.k { i.jt } else { i.jf }),
                RET_K => return i.k != 0,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn das_frame(queue: u8) -> Vec<u8> {
        let mut f = vec![
            0x02, 0x44, 0x41, 0x53, 0x01, queue, 0x02, 0x44, 0x41, 0x53, 0xff, 0x00, 0x89, 0x4f,
        ];
        f.extend_from_slice(&[0u8; 50]);
        f
    }

    #[test]
    fn programs_agree_with_the_reference_decision() {
        let mut other_type = das_frame(1);
        other_type[12] = 0x08;
        other_type[13] = 0x00;
        let mut other_mac = das_frame(0);
        other_mac[0] = 0x06;
        let mut notices = Vec::new();
        crate::completion::encode_notices(1, &[], &mut notices);
        let mut status = Vec::new();
        crate::status::encode_status(&crate::status::NodeStatus::default(), &mut status);
        let frames = [
            das_frame(0),
            das_frame(1),
            das_frame(7),
            other_type,
            other_mac,
            notices,
            status,
            vec![0x02, 0x44],
            vec![],
        ];
        for filter in [
            Filter::Das,
            Filter::DasQueue(0),
            Filter::DasQueue(1),
            Filter::Notices,
            Filter::Status,
        ] {
            let program = filter.program().unwrap();
            for frame in &frames {
                assert_eq!(
                    run(&program, frame),
                    filter.accepts(frame),
                    "{filter:?} on {frame:02x?}"
                );
            }
        }
        assert!(Filter::DasQueue(1).accepts(&das_frame(1)));
        assert!(!Filter::DasQueue(1).accepts(&das_frame(0)));
        assert!(Filter::All.program().is_none());
    }
}
