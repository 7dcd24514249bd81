//! AF_XDP sockets, their UMEM and their four rings, on the kernel's ABI (`linux/if_xdp.h`
//! through libc). The only module of the crate with `unsafe` code: memory maps shared
//! with the kernel and the system calls that set them up.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

/// One descriptor of an rx or tx ring: a frame's address in the UMEM and its length.
pub(crate) type Desc = libc::xdp_desc;

/// A memory map, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the map is plain memory owned by this value; which thread unmaps it does not
// matter, and every access through it goes through methods that document their own rules.
unsafe impl Send for Mmap {}
// SAFETY: shared access only reads the pointer; the memory is accessed through atomics
// (ring indices) or through frames owned by exactly one thread at a time (see `Umem`).
unsafe impl Sync for Mmap {}

impl Mmap {
    fn map(len: usize, fd: Option<RawFd>, offset: libc::off_t) -> io::Result<Mmap> {
        let (flags, fd) = match fd {
            Some(fd) => (libc::MAP_SHARED | libc::MAP_POPULATE, fd),
            None => (
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
            ),
        };
        // SAFETY: a fresh mapping chosen by the kernel (null hint); no existing memory is
        // touched. The result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(ptr.cast::<u8>())
            .map(|ptr| Mmap { ptr, len })
            .ok_or_else(|| io::Error::other("mmap returned a null pointer"))
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: ptr and len are exactly what mmap returned; nothing refers to the map
        // after its owner is dropped (rings and frames borrow from their owner).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// The UMEM: the frames the kernel writes received packets into and reads packets to
/// send from, `frame_size` bytes each.
///
/// A frame belongs to one party at a time: the kernel (while its address sits in the
/// fill ring, an rx ring awaiting the kernel, or the tx ring) or the one queue that holds
/// its address. Reads and writes go through [`Umem::frame`] and [`Umem::frame_mut`] on
/// frames the caller holds.
#[derive(Debug)]
pub(crate) struct Umem {
    area: Mmap,
    frame_size: u32,
}

impl Umem {
    /// Anonymous memory for `frames` frames of `frame_size` bytes.
    pub(crate) fn new(frames: u32, frame_size: u32) -> io::Result<Umem> {
        let area = Mmap::map(frames as usize * frame_size as usize, None, 0)?;
        Ok(Umem { area, frame_size })
    }

    /// Bytes per frame.
    pub(crate) fn frame_size(&self) -> u32 {
        self.frame_size
    }

    /// The bytes at `addr..addr + len` of a frame the caller holds (its address came out
    /// of an rx ring or the completion ring and was not given back yet).
    pub(crate) fn frame(&self, addr: u64, len: u32) -> &[u8] {
        let (start, len) = self.bounds(addr, len);
        // SAFETY: bounds() keeps the range inside the map; the frame is held by the
        // caller, so the kernel does not write it while the slice lives.
        unsafe { std::slice::from_raw_parts(self.area.ptr.as_ptr().add(start), len) }
    }

    /// The bytes at `addr..addr + len` of a frame the caller holds, writable.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn frame_mut(&self, addr: u64, len: u32) -> &mut [u8] {
        let (start, len) = self.bounds(addr, len);
        // SAFETY: bounds() keeps the range inside the map; the frame is held by the
        // caller alone (one owner per frame address), so no other reference to these
        // bytes exists while the slice lives.
        unsafe { std::slice::from_raw_parts_mut(self.area.ptr.as_ptr().add(start), len) }
    }

    /// The range of a frame, clamped to the frame that `addr` falls in.
    fn bounds(&self, addr: u64, len: u32) -> (usize, usize) {
        let frame_size = self.frame_size as usize;
        let addr = (addr as usize).min(self.area.len - frame_size);
        let base = addr - addr % frame_size;
        let len = (len as usize).min(base + frame_size - addr);
        (addr, len)
    }
}

/// The indices and entries of one ring mapped from the kernel.
#[derive(Debug)]
struct RingMap {
    map: Mmap,
    producer: usize,
    consumer: usize,
    flags: usize,
    desc: usize,
    mask: u32,
    size: u32,
}

impl RingMap {
    fn new(
        fd: BorrowedFd<'_>,
        off: &libc::xdp_ring_offset,
        size: u32,
        entry: usize,
        pgoff: u64,
    ) -> io::Result<RingMap> {
        let len = off.desc as usize + size as usize * entry;
        let map = Mmap::map(len, Some(fd.as_raw_fd()), pgoff as libc::off_t)?;
        Ok(RingMap {
            map,
            producer: off.producer as usize,
            consumer: off.consumer as usize,
            flags: off.flags as usize,
            desc: off.desc as usize,
            mask: size - 1,
            size,
        })
    }

    fn index(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: the offsets come from XDP_MMAP_OFFSETS and lie inside the map; the
        // kernel keeps each index 4-byte aligned and shares it only through atomic
        // accesses on its side (smp_load_acquire / smp_store_release).
        unsafe { &*self.map.ptr.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn producer(&self) -> &AtomicU32 {
        self.index(self.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.index(self.consumer)
    }

    fn needs_wakeup(&self) -> bool {
        self.index(self.flags).load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    fn entry<T>(&self, idx: u32) -> *mut T {
        let slot = (idx & self.mask) as usize;
        // SAFETY: slot < size, and the map holds `size` entries of T after `desc`.
        unsafe { self.map.ptr.as_ptr().add(self.desc).cast::<T>().add(slot) }
    }
}

/// A ring that user space produces into: the fill ring (frame addresses, `u64`) and a
/// tx ring ([`Desc`]).
#[derive(Debug)]
pub(crate) struct ProdRing<T> {
    ring: RingMap,
    cached_prod: u32,
    cached_limit: u32,
    _entry: std::marker::PhantomData<T>,
}

impl<T: Copy> ProdRing<T> {
    fn new(ring: RingMap) -> Self {
        let cached_prod = ring.producer().load(Ordering::Relaxed);
        let cached_limit = ring
            .consumer()
            .load(Ordering::Acquire)
            .wrapping_add(ring.size);
        ProdRing {
            ring,
            cached_prod,
            cached_limit,
            _entry: std::marker::PhantomData,
        }
    }

    /// Free slots, re-reading the kernel's consumer index if fewer than `want` are known.
    pub(crate) fn free(&mut self, want: u32) -> u32 {
        let free = self.cached_limit.wrapping_sub(self.cached_prod);
        if free >= want {
            return free;
        }
        self.cached_limit = self
            .ring
            .consumer()
            .load(Ordering::Acquire)
            .wrapping_add(self.ring.size);
        self.cached_limit.wrapping_sub(self.cached_prod)
    }

    /// Writes the `i`-th entry after the last submitted one; `i` must be below what
    /// [`ProdRing::free`] returned.
    pub(crate) fn write(&mut self, i: u32, value: T) {
        let idx = self.cached_prod.wrapping_add(i);
        // SAFETY: the slot is free (below the consumer index plus the ring size), so the
        // kernel does not read it until the producer index moves past it.
        unsafe { self.ring.entry::<T>(idx).write(value) }
    }

    /// Hands the next `n` written entries to the kernel.
    pub(crate) fn submit(&mut self, n: u32) {
        self.cached_prod = self.cached_prod.wrapping_add(n);
        self.ring
            .producer()
            .store(self.cached_prod, Ordering::Release);
    }

    /// Entries submitted and not yet consumed by the kernel.
    pub(crate) fn pending(&self) -> u32 {
        self.cached_prod
            .wrapping_sub(self.ring.consumer().load(Ordering::Acquire))
    }

    /// Whether the kernel asks for a system call to process the ring.
    pub(crate) fn needs_wakeup(&self) -> bool {
        self.ring.needs_wakeup()
    }
}

/// A ring that user space consumes from: an rx ring ([`Desc`]) and the completion ring
/// (frame addresses, `u64`).
#[derive(Debug)]
pub(crate) struct ConsRing<T> {
    ring: RingMap,
    cached_cons: u32,
    cached_prod: u32,
    _entry: std::marker::PhantomData<T>,
}

impl<T: Copy> ConsRing<T> {
    fn new(ring: RingMap) -> Self {
        let cached_cons = ring.consumer().load(Ordering::Relaxed);
        ConsRing {
            ring,
            cached_cons,
            cached_prod: cached_cons,
            _entry: std::marker::PhantomData,
        }
    }

    /// Entries ready to read, at most `max`, re-reading the kernel's producer index when
    /// none are known.
    pub(crate) fn available(&mut self, max: u32) -> u32 {
        let mut n = self.cached_prod.wrapping_sub(self.cached_cons);
        if n == 0 {
            self.cached_prod = self.ring.producer().load(Ordering::Acquire);
            n = self.cached_prod.wrapping_sub(self.cached_cons);
        }
        n.min(max)
    }

    /// Entries the kernel has produced and user space not yet released.
    pub(crate) fn depth(&self) -> u32 {
        self.ring
            .producer()
            .load(Ordering::Acquire)
            .wrapping_sub(self.cached_cons)
    }

    /// The `i`-th unread entry; `i` must be below what [`ConsRing::available`] returned.
    pub(crate) fn read(&self, i: u32) -> T {
        let idx = self.cached_cons.wrapping_add(i);
        // SAFETY: the slot is below the producer index read with acquire ordering, so the
        // kernel has written it and does not touch it until the consumer index moves on.
        unsafe { self.ring.entry::<T>(idx).read() }
    }

    /// Gives the next `n` read entries back to the kernel.
    pub(crate) fn release(&mut self, n: u32) {
        self.cached_cons = self.cached_cons.wrapping_add(n);
        self.ring
            .consumer()
            .store(self.cached_cons, Ordering::Release);
    }
}

/// Counters the kernel keeps per socket (`XDP_STATISTICS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct XskStats {
    /// Frames dropped for a reason other than a full rx ring (no fill ring entry, too
    /// long for a frame).
    pub rx_dropped: u64,
    /// Frames dropped because the socket's rx ring was full.
    pub rx_ring_full: u64,
    /// Times the kernel found the fill ring empty (shared by the sockets of one UMEM
    /// and device queue).
    pub rx_fill_ring_empty_descs: u64,
    /// Invalid descriptors user space put on the tx ring, dropped.
    pub tx_invalid_descs: u64,
}

/// An AF_XDP socket.
#[derive(Debug)]
pub(crate) struct XskSocket {
    fd: OwnedFd,
}

impl AsFd for XskSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for XskSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl XskSocket {
    /// A new, unbound AF_XDP socket (needs CAP_NET_RAW).
    pub(crate) fn new() -> io::Result<XskSocket> {
        // SAFETY: plain system call; the returned descriptor is checked and then owned.
        let fd =
            check(unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        Ok(XskSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    fn set<T>(&self, opt: libc::c_int, value: &T) -> io::Result<()> {
        // SAFETY: value points to a live T of the given size, as the option expects.
        check(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                opt,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    fn get<T: Default>(&self, opt: libc::c_int) -> io::Result<T> {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: value is a writable T and len its size; the kernel writes at most len
        // bytes and only plain integers.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                opt,
                (&mut value as *mut T).cast(),
                &mut len,
            )
        })?;
        Ok(value)
    }

    /// Registers `umem` as this socket's UMEM (the first socket of a UMEM does this).
    pub(crate) fn register_umem(&self, umem: &Umem) -> io::Result<()> {
        let reg = libc::xdp_umem_reg {
            addr: umem.area.ptr.as_ptr() as u64,
            len: umem.area.len as u64,
            chunk_size: umem.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        self.set(libc::XDP_UMEM_REG, &reg)
    }

    /// Sets a ring's size (`XDP_RX_RING`, `XDP_TX_RING`, `XDP_UMEM_FILL_RING`,
    /// `XDP_UMEM_COMPLETION_RING`).
    fn set_ring_size(&self, opt: libc::c_int, size: u32) -> io::Result<()> {
        self.set(opt, &size)
    }

    fn offsets(&self) -> io::Result<libc::xdp_mmap_offsets> {
        let zero = || libc::xdp_ring_offset {
            producer: 0,
            consumer: 0,
            desc: 0,
            flags: 0,
        };
        let mut offsets = libc::xdp_mmap_offsets {
            rx: zero(),
            tx: zero(),
            fr: zero(),
            cr: zero(),
        };
        let mut len = std::mem::size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: offsets is a writable xdp_mmap_offsets and len its size.
        check(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                (&mut offsets as *mut libc::xdp_mmap_offsets).cast(),
                &mut len,
            )
        })?;
        Ok(offsets)
    }

    /// Makes and maps the fill and completion rings of this socket's UMEM.
    pub(crate) fn umem_rings(
        &self,
        fill_size: u32,
        comp_size: u32,
    ) -> io::Result<(ProdRing<u64>, ConsRing<u64>)> {
        self.set_ring_size(libc::XDP_UMEM_FILL_RING, fill_size)?;
        self.set_ring_size(libc::XDP_UMEM_COMPLETION_RING, comp_size)?;
        let off = self.offsets()?;
        let fd = self.fd.as_fd();
        let fill = RingMap::new(fd, &off.fr, fill_size, 8, libc::XDP_UMEM_PGOFF_FILL_RING)?;
        let comp = RingMap::new(
            fd,
            &off.cr,
            comp_size,
            8,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        )?;
        Ok((ProdRing::new(fill), ConsRing::new(comp)))
    }

    /// Makes and maps this socket's rx and tx rings.
    pub(crate) fn rings(
        &self,
        rx_size: u32,
        tx_size: u32,
    ) -> io::Result<(ConsRing<Desc>, ProdRing<Desc>)> {
        self.set_ring_size(libc::XDP_RX_RING, rx_size)?;
        self.set_ring_size(libc::XDP_TX_RING, tx_size)?;
        let off = self.offsets()?;
        let fd = self.fd.as_fd();
        let entry = std::mem::size_of::<Desc>();
        let rx = RingMap::new(fd, &off.rx, rx_size, entry, libc::XDP_PGOFF_RX_RING as u64)?;
        let tx = RingMap::new(fd, &off.tx, tx_size, entry, libc::XDP_PGOFF_TX_RING as u64)?;
        Ok((ConsRing::new(rx), ProdRing::new(tx)))
    }

    /// Binds the socket to device queue `queue_id` of interface `ifindex`; with
    /// `shared`, onto the UMEM of that (already bound) socket.
    pub(crate) fn bind(
        &self,
        ifindex: u32,
        queue_id: u32,
        flags: u16,
        shared: Option<&XskSocket>,
    ) -> io::Result<()> {
        let addr = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue_id,
            sxdp_shared_umem_fd: shared.map_or(0, |s| s.as_raw_fd() as u32),
        };
        // SAFETY: addr is a valid sockaddr_xdp and the length is its size.
        check(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_xdp).cast(),
                std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// The kernel's counters of this socket.
    pub(crate) fn stats(&self) -> io::Result<XskStats> {
        let s: RawStats = self.get(libc::XDP_STATISTICS)?;
        Ok(XskStats {
            rx_dropped: s.0.rx_dropped,
            rx_ring_full: s.0.rx_ring_full,
            rx_fill_ring_empty_descs: s.0.rx_fill_ring_empty_descs,
            tx_invalid_descs: s.0.tx_invalid_descs,
        })
    }

    /// Asks the kernel to process the tx ring (in copy mode it sends a bounded number
    /// of frames per call). `WouldBlock` means frames remain.
    pub(crate) fn kick_tx(&self) -> io::Result<()> {
        // SAFETY: a zero-length send with no buffer and no address, as AF_XDP expects.
        check(unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            ) as libc::c_int
        })
        .map(drop)
    }

    /// Asks the kernel to look at the fill ring again (when it flags the need).
    pub(crate) fn kick_rx(&self) -> io::Result<()> {
        // SAFETY: a zero-length receive with no buffer, as AF_XDP expects.
        check(unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ) as libc::c_int
        })
        .map(drop)
    }
}

/// `xdp_statistics` with a `Default` for [`XskSocket::get`].
struct RawStats(libc::xdp_statistics);

impl Default for RawStats {
    fn default() -> Self {
        RawStats(libc::xdp_statistics {
            rx_dropped: 0,
            rx_invalid_descs: 0,
            tx_invalid_descs: 0,
            rx_ring_full: 0,
            rx_fill_ring_empty_descs: 0,
            tx_ring_empty_descs: 0,
        })
    }
}

/// The index of interface `name` in the caller's network namespace.
pub(crate) fn if_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: name is a valid NUL-terminated string for the duration of the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}
