//! One netmap ring bound to a descriptor of its own: registering it with `NIOCCTRL`,
//! mapping the shared region, and walking its slots and buffers with every offset the
//! kernel gave checked against the region first.

#![allow(unsafe_code)]

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::ptr::{NonNull, addr_of, addr_of_mut};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::NetmapError;
use crate::sys::{
    NETMAP_API, NETMAP_REQ_IFNAMSIZ, NETMAP_REQ_REGISTER, NIOCCTRL, NIOCRXSYNC, NIOCTXSYNC,
    NR_DIR_RX, NR_DIR_TX, NR_REG_ONE_NIC, NR_RX_RINGS_ONLY, NR_TX_RINGS_ONLY, NetmapIf, NetmapRing,
    NetmapSlot, NmReqHeader, NmReqRegister, ring_ofs_index, ring_ofs_len,
};

/// Which ring of a pair a binding holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// A receive ring.
    Rx,
    /// A transmit ring.
    Tx,
}

impl Dir {
    /// "rx" or "tx", for errors.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Dir::Rx => "rx",
            Dir::Tx => "tx",
        }
    }

    fn only_flag(self) -> u64 {
        match self {
            Dir::Rx => NR_RX_RINGS_ONLY,
            Dir::Tx => NR_TX_RINGS_ONLY,
        }
    }

    fn ring_dir(self) -> u16 {
        match self {
            Dir::Rx => NR_DIR_RX,
            Dir::Tx => NR_DIR_TX,
        }
    }

    fn sync_request(self) -> libc::Ioctl {
        match self {
            Dir::Rx => NIOCRXSYNC,
            Dir::Tx => NIOCTXSYNC,
        }
    }
}

/// The memory a binding's ring lives in.
pub(crate) struct Region {
    base: NonNull<u8>,
    len: usize,
    /// Who releases the memory: the kernel's mapping, or (in tests) nobody here.
    owner: Owner,
}

enum Owner {
    /// A mapping of the netmap region, unmapped on drop.
    Mapped,
    /// Memory of a test's fake kernel, which outlives the binding.
    #[cfg(test)]
    Fake,
}

impl Region {
    /// Maps the `len`-byte region of the netmap descriptor `fd`.
    fn map(fd: &OwnedFd, len: usize) -> io::Result<Region> {
        // SAFETY: maps the region the kernel just described for this descriptor, with
        // its exact size; the result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Region {
            base: NonNull::new(base.cast()).ok_or_else(|| io::Error::other("mmap returned 0"))?,
            len,
            owner: Owner::Mapped,
        })
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if matches!(self.owner, Owner::Mapped) {
            // SAFETY: unmaps exactly the mapping made in `map`; the binding that owned
            // this region is gone, and nothing else points into it.
            unsafe {
                libc::munmap(self.base.as_ptr().cast(), self.len);
            }
        }
    }
}

/// One ring of an interface, bound to its own descriptor, in its mapped region.
///
/// Slots `[head, tail)` belong to this side; every other slot and buffer belongs to the
/// kernel, which only touches the ring during a sync on this descriptor (made by the
/// thread that owns the binding). `sync` and `advance` take `&mut self`, so no buffer
/// borrowed from the ring outlives the hand-over of its slot.
pub(crate) struct Binding {
    region: Region,
    /// `None` in tests, whose fake kernel needs no system call.
    fd: Option<OwnedFd>,
    /// Offset of the ring header in the region.
    ring: usize,
    /// Offset of buffer 0 in the region.
    buffers: usize,
    num_slots: u32,
    buf_size: u32,
    dir: Dir,
}

// SAFETY: the region is owned by one binding and used by the thread that owns it; the
// kernel synchronises with it through the sync system calls on the binding's own
// descriptor.
unsafe impl Send for Binding {}

impl Binding {
    /// Opens `device`, binds ring `ring` (in direction `dir`) of `interface` to it and
    /// maps the shared region.
    pub(crate) fn open(
        device: &Path,
        interface: &str,
        ring: usize,
        dir: Dir,
    ) -> Result<Binding, NetmapError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(device)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound {
                    NetmapError::NoDevice {
                        device: device.to_path_buf(),
                    }
                } else {
                    NetmapError::OpenDevice {
                        device: device.to_path_buf(),
                        source,
                    }
                }
            })?;
        let fd = OwnedFd::from(file);
        let mut reg = NmReqRegister {
            nr_mode: NR_REG_ONE_NIC,
            nr_ringid: ring as u16,
            nr_flags: dir.only_flag(),
            ..NmReqRegister::default()
        };
        let mut hdr = NmReqHeader {
            nr_version: NETMAP_API,
            nr_reqtype: NETMAP_REQ_REGISTER,
            nr_reserved: 0,
            nr_name: request_name(interface),
            nr_options: 0,
            nr_body: addr_of_mut!(reg) as u64,
        };
        // SAFETY: NIOCCTRL reads and writes the header and the body it points to, both
        // live and of the layout the kernel expects (sys.rs), until the call returns.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), NIOCCTRL, addr_of_mut!(hdr)) };
        if rc < 0 {
            let source = io::Error::last_os_error();
            if hdr.nr_version != NETMAP_API {
                return Err(NetmapError::ApiVersion {
                    kernel: hdr.nr_version,
                    ours: NETMAP_API,
                });
            }
            return Err(NetmapError::Register {
                interface: interface.to_string(),
                dir: dir.name(),
                ring,
                hint: register_hint(&source),
                source,
            });
        }
        let bytes = reg.nr_memsize;
        let map_err = |source| NetmapError::Map {
            interface: interface.to_string(),
            bytes,
            source,
        };
        let len = usize::try_from(bytes).map_err(|_| map_err(io::Error::other("too large")))?;
        let region = Region::map(&fd, len).map_err(map_err)?;
        let nifp = usize::try_from(reg.nr_offset).unwrap_or(usize::MAX);
        Binding::in_region(region, nifp, interface, ring, dir, Some(fd))
    }

    /// The binding of ring `ring` (direction `dir`) whose interface descriptor lies at
    /// `nifp` in `region`, after checking that everything the kernel described lies
    /// inside the region.
    fn in_region(
        region: Region,
        nifp: usize,
        interface: &str,
        ring: usize,
        dir: Dir,
        fd: Option<OwnedFd>,
    ) -> Result<Binding, NetmapError> {
        let bad = |what: String| NetmapError::Layout {
            interface: interface.to_string(),
            dir: dir.name(),
            ring,
            what,
        };
        let len = region.len;
        let if_size = std::mem::size_of::<NetmapIf>();
        if nifp % 8 != 0 || nifp.checked_add(if_size).is_none_or(|end| end > len) {
            return Err(bad(format!(
                "interface descriptor at {nifp} in a region of {len} bytes"
            )));
        }
        // SAFETY: the descriptor lies inside the region (checked above) and is 8-byte
        // aligned, as NetmapIf needs; the kernel writes it at registration only.
        let nifp_ref = unsafe { &*region.base.as_ptr().add(nifp).cast::<NetmapIf>() };
        let count = match dir {
            Dir::Rx => nifp_ref.ni_rx_rings,
            Dir::Tx => nifp_ref.ni_tx_rings,
        } as usize;
        if ring >= count {
            return Err(NetmapError::NoSuchRing {
                interface: interface.to_string(),
                dir: dir.name(),
                ring,
                count,
            });
        }
        let index = ring_ofs_index(nifp_ref, ring as u32, dir == Dir::Rx);
        let table_end = ring_ofs_len(nifp_ref)
            .checked_mul(8)
            .and_then(|n| n.checked_add(nifp + if_size));
        if table_end.is_none_or(|end| end > len) {
            return Err(bad("ring offset table beyond the region".into()));
        }
        // SAFETY: entry `index` of the offset table lies inside the region (the whole
        // table was checked above) and is 8-byte aligned after the aligned descriptor.
        let offset = unsafe {
            std::ptr::read(
                region
                    .base
                    .as_ptr()
                    .add(nifp + if_size + 8 * index)
                    .cast::<isize>(),
            )
        };
        if offset == 0 {
            return Err(bad("the kernel did not bind this ring (offset 0)".into()));
        }
        let header = std::mem::size_of::<NetmapRing>();
        let ring_at = (nifp as isize)
            .checked_add(offset)
            .and_then(|at| usize::try_from(at).ok())
            .filter(|at| at % 8 == 0 && at.checked_add(header).is_some_and(|end| end <= len))
            .ok_or_else(|| bad(format!("ring at offset {offset} from the descriptor")))?;
        // SAFETY: the ring header lies inside the region and is 8-byte aligned
        // (checked above); these fields are constant after registration.
        let (buf_ofs, num_slots, buf_size, ring_dir) = unsafe {
            let r = region.base.as_ptr().add(ring_at).cast::<NetmapRing>();
            (
                std::ptr::read(addr_of!((*r).buf_ofs)),
                std::ptr::read(addr_of!((*r).num_slots)),
                std::ptr::read(addr_of!((*r).nr_buf_size)),
                std::ptr::read(addr_of!((*r).dir)),
            )
        };
        if ring_dir != dir.ring_dir() {
            return Err(bad(format!("the ring's direction is {ring_dir}")));
        }
        if num_slots == 0 || buf_size == 0 {
            return Err(bad(format!("{num_slots} slots of {buf_size}-byte buffers")));
        }
        let slots_end = (num_slots as usize)
            .checked_mul(std::mem::size_of::<NetmapSlot>())
            .and_then(|n| n.checked_add(ring_at + header));
        if slots_end.is_none_or(|end| end > len) {
            return Err(bad(format!("{num_slots} slots beyond the region")));
        }
        let buffers = (ring_at as i64)
            .checked_add(buf_ofs)
            .and_then(|at| usize::try_from(at).ok())
            .filter(|&at| at < len)
            .ok_or_else(|| bad(format!("buffers at offset {buf_ofs} from the ring")))?;
        let binding = Binding {
            region,
            fd,
            ring: ring_at,
            buffers,
            num_slots,
            buf_size,
            dir,
        };
        let (head, tail) = (binding.head(), binding.tail());
        if head >= num_slots || tail >= num_slots {
            return Err(bad(format!(
                "head {head} or tail {tail} beyond {num_slots} slots"
            )));
        }
        Ok(binding)
    }

    fn ring_ptr(&self) -> *mut NetmapRing {
        // SAFETY: `ring` was checked to leave a whole ring header inside the region.
        unsafe { self.region.base.as_ptr().add(self.ring).cast() }
    }

    fn index(&self, field: *mut u32) -> &AtomicU32 {
        // SAFETY: `field` is one of the ring header's u32 indices, 4-byte aligned inside
        // the region, which lives as long as `self`.
        unsafe { AtomicU32::from_ptr(field) }
    }

    /// Slots in the ring.
    pub(crate) fn num_slots(&self) -> u32 {
        self.num_slots
    }

    /// Bytes of each buffer.
    pub(crate) fn buf_size(&self) -> usize {
        self.buf_size as usize
    }

    /// The first slot this side owns.
    pub(crate) fn head(&self) -> u32 {
        // SAFETY: a field address inside the ring header (no reference is made).
        self.index(unsafe { addr_of_mut!((*self.ring_ptr()).head) })
            .load(Ordering::Relaxed)
    }

    /// The first slot the kernel owns, as of the last sync.
    pub(crate) fn tail(&self) -> u32 {
        // SAFETY: as in `head`.
        self.index(unsafe { addr_of_mut!((*self.ring_ptr()).tail) })
            .load(Ordering::Acquire)
    }

    /// Hands the slots before `head` to the kernel (at the next sync): sets `cur` and
    /// `head` to it.
    pub(crate) fn advance(&mut self, head: u32) {
        debug_assert!(head < self.num_slots);
        // SAFETY: as in `head`.
        let (cur, h) = unsafe {
            (
                addr_of_mut!((*self.ring_ptr()).cur),
                addr_of_mut!((*self.ring_ptr()).head),
            )
        };
        self.index(cur).store(head, Ordering::Release);
        self.index(h).store(head, Ordering::Release);
    }

    /// Slot `i` (`i < num_slots`).
    fn slot_ptr(&self, i: u32) -> *mut NetmapSlot {
        assert!(i < self.num_slots, "slot {i} of {}", self.num_slots);
        let at = self.ring + std::mem::size_of::<NetmapRing>();
        // SAFETY: the ring's `num_slots` slots were checked to lie inside the region.
        unsafe {
            self.region
                .base
                .as_ptr()
                .add(at)
                .cast::<NetmapSlot>()
                .add(i as usize)
        }
    }

    /// A copy of slot `i`.
    pub(crate) fn slot(&self, i: u32) -> NetmapSlot {
        // SAFETY: `slot_ptr` checks the index; slots are plain data, 8-byte aligned.
        unsafe { std::ptr::read(self.slot_ptr(i)) }
    }

    /// Sets the length and flags of slot `i` (a slot this side owns).
    pub(crate) fn set_slot(&mut self, i: u32, len: u16, flags: u16) {
        let slot = self.slot_ptr(i);
        // SAFETY: `slot_ptr` checks the index; this side owns the slot.
        unsafe {
            (*slot).len = len;
            (*slot).flags = flags;
        }
    }

    /// Where buffer `idx` starts in the region, if the whole buffer lies inside it.
    fn buffer_at(&self, idx: u32) -> Option<usize> {
        let start = (idx as usize)
            .checked_mul(self.buf_size as usize)?
            .checked_add(self.buffers)?;
        (start.checked_add(self.buf_size as usize)? <= self.region.len).then_some(start)
    }

    /// The first `len` bytes of buffer `idx`, if they lie inside its buffer and the
    /// region.
    pub(crate) fn buffer(&self, idx: u32, len: usize) -> Option<&[u8]> {
        let start = self
            .buffer_at(idx)
            .filter(|_| len <= self.buf_size as usize)?;
        // SAFETY: the bytes lie inside the region (checked); the buffer belongs to a
        // slot this side owns, which the kernel does not touch until `advance` and a
        // sync, both of which need `&mut self` and so end this borrow first.
        Some(unsafe { std::slice::from_raw_parts(self.region.base.as_ptr().add(start), len) })
    }

    /// Buffer `idx`, whole, to write a frame into.
    pub(crate) fn buffer_mut(&mut self, idx: u32) -> Option<&mut [u8]> {
        let start = self.buffer_at(idx)?;
        let len = self.buf_size as usize;
        // SAFETY: as in `buffer`; `&mut self` makes this the only borrow.
        Some(unsafe { std::slice::from_raw_parts_mut(self.region.base.as_ptr().add(start), len) })
    }

    /// NIOCRXSYNC or NIOCTXSYNC on the binding's descriptor.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        let Some(fd) = &self.fd else {
            return Ok(());
        };
        // SAFETY: the sync requests take no argument.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), self.dir.sync_request()) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// `name` as a request's NUL-terminated port name (the caller checked its length).
fn request_name(name: &str) -> [libc::c_char; NETMAP_REQ_IFNAMSIZ] {
    let mut out = [0; NETMAP_REQ_IFNAMSIZ];
    for (o, b) in out
        .iter_mut()
        .zip(name.bytes().take(NETMAP_REQ_IFNAMSIZ - 1))
    {
        *o = b as libc::c_char;
    }
    out
}

/// What a refused registration most likely means.
fn register_hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::ENXIO) | Some(libc::ENOENT) | Some(libc::ENODEV) => {
            " (no interface of that name, or one netmap cannot open: see `ip link`)"
        }
        Some(libc::EBUSY) => " (another process holds this ring)",
        Some(libc::EINVAL) => " (does the interface have that many rings? see `ethtool -l`)",
        Some(libc::EPERM) | Some(libc::EACCES) => " (netmap needs root)",
        Some(libc::ENOMEM) => " (netmap is short of memory: raise its buffer and ring counts)",
        _ => "",
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A kernel in memory: a region laid out as netmap lays out one interface's, for
    //! the tests to play the kernel's part (fill receive slots, move `tail`, read what
    //! was sent).

    use super::*;

    /// Slots per ring.
    pub(crate) const SLOTS: u32 = 8;
    /// Bytes per buffer.
    pub(crate) const BUF_SIZE: u32 = 256;
    /// NIC rings per direction (one host ring per direction besides).
    pub(crate) const RINGS: u32 = 2;

    /// A 4096-byte aligned page.
    #[repr(C, align(4096))]
    pub(crate) struct Page([u8; 4096]);

    /// Offset of ring `k` (in ring_ofs order).
    fn ring_at(k: u32) -> usize {
        4096 * (1 + k as usize)
    }

    /// Offset of the buffer area.
    const BUFFERS: usize = 4096 * 7;

    /// A fake kernel with one interface of [`RINGS`] ring pairs. Its region holds the
    /// interface descriptor at 0, the rings on pages of their own (tx 0, tx 1, host tx,
    /// rx 0, rx 1, host rx), then the buffers. It must outlive its bindings.
    pub(crate) struct Kernel {
        pages: Box<[Page]>,
        base: *mut u8,
        /// The next transmit slot not yet read by `sent`, per tx ring.
        tx_seen: [u32; RINGS as usize],
    }

    impl Kernel {
        /// Lays out the region as a registration would.
        pub(crate) fn new() -> Kernel {
            let pages = BUFFERS / 4096 + (2 * RINGS * SLOTS * BUF_SIZE) as usize / 4096;
            let mut pages: Box<[Page]> = (0..pages).map(|_| Page([0; 4096])).collect();
            let base = pages.as_mut_ptr().cast::<u8>();
            // SAFETY: every write below lies inside the pages just allocated.
            unsafe {
                let nifp = base.cast::<NetmapIf>();
                (*nifp).ni_tx_rings = RINGS;
                (*nifp).ni_rx_rings = RINGS;
                (*nifp).ni_host_tx_rings = 1;
                (*nifp).ni_host_rx_rings = 1;
                let ofs = base.add(std::mem::size_of::<NetmapIf>()).cast::<isize>();
                for k in 0..2 * (RINGS + 1) {
                    // Host rings are not bound: offset 0.
                    if k == RINGS || k == 2 * RINGS + 1 {
                        continue;
                    }
                    *ofs.add(k as usize) = ring_at(k) as isize;
                    let ring = base.add(ring_at(k)).cast::<NetmapRing>();
                    let rx = k > RINGS;
                    let nic = if rx { k - RINGS - 1 } else { k };
                    (*ring).buf_ofs = (BUFFERS - ring_at(k)) as i64;
                    (*ring).num_slots = SLOTS;
                    (*ring).nr_buf_size = BUF_SIZE;
                    (*ring).dir = if rx { NR_DIR_RX } else { NR_DIR_TX };
                    // An empty receive ring; a transmit ring with every slot free.
                    (*ring).tail = if rx { 0 } else { SLOTS - 1 };
                    let slots = ring.add(1).cast::<NetmapSlot>();
                    for i in 0..SLOTS {
                        (*slots.add(i as usize)).buf_idx =
                            (u32::from(rx) * RINGS + nic) * SLOTS + i;
                    }
                }
            }
            Kernel {
                pages,
                base,
                tx_seen: [0; RINGS as usize],
            }
        }

        /// A binding of ring `ring` in direction `dir`, as `Binding::open` makes one.
        pub(crate) fn bind(&self, ring: usize, dir: Dir) -> Result<Binding, NetmapError> {
            let region = Region {
                base: NonNull::new(self.base).unwrap(),
                len: self.pages.len() * 4096,
                owner: Owner::Fake,
            };
            Binding::in_region(region, 0, "fake0", ring, dir, None)
        }

        fn ring(&self, ring: u32, dir: Dir) -> *mut NetmapRing {
            let k = if dir == Dir::Rx {
                RINGS + 1 + ring
            } else {
                ring
            };
            // SAFETY: inside the region.
            unsafe { self.base.add(ring_at(k)).cast() }
        }

        /// Overwrites field `field` of ring `ring` (to corrupt it in a test).
        pub(crate) fn poke_ring(&self, ring: u32, dir: Dir, f: impl FnOnce(&mut NetmapRing)) {
            // SAFETY: the ring header lies inside the region; tests are single-threaded.
            f(unsafe { &mut *self.ring(ring, dir) })
        }

        /// Puts `frames` into receive ring `ring` after its tail and moves the tail past
        /// them; a frame given as several parts takes one slot per part, all but the
        /// last flagged NS_MOREFRAG.
        pub(crate) fn deliver(&mut self, ring: u32, frames: &[Vec<&[u8]>]) {
            let r = self.ring(ring, Dir::Rx);
            // SAFETY: ring, slots and buffers lie inside the region; the fake kernel
            // only writes slots at and after the tail, which the binding does not own.
            unsafe {
                let slots = r.add(1).cast::<NetmapSlot>();
                let mut tail = (*r).tail;
                for parts in frames {
                    for (n, part) in parts.iter().enumerate() {
                        let slot = slots.add(tail as usize);
                        let buf = self
                            .base
                            .add(BUFFERS + ((*slot).buf_idx * BUF_SIZE) as usize);
                        std::ptr::copy_nonoverlapping(part.as_ptr(), buf, part.len());
                        (*slot).len = part.len() as u16;
                        (*slot).flags = if n + 1 < parts.len() {
                            crate::sys::NS_MOREFRAG
                        } else {
                            0
                        };
                        tail = crate::sys::ring_next(tail, SLOTS);
                    }
                }
                (*r).tail = tail;
            }
        }

        /// The frames user space put on transmit ring `ring` since the last call; the
        /// kernel then frees every slot (the NIC sent them).
        pub(crate) fn sent(&mut self, ring: u32) -> Vec<Vec<u8>> {
            let r = self.ring(ring, Dir::Tx);
            let mut out = Vec::new();
            // SAFETY: as in `deliver`; the slots before `head` are the kernel's.
            unsafe {
                let slots = r.add(1).cast::<NetmapSlot>();
                let head = (*r).head;
                let mut i = self.tx_seen[ring as usize];
                while i != head {
                    let slot = *slots.add(i as usize);
                    let buf = self.base.add(BUFFERS + (slot.buf_idx * BUF_SIZE) as usize);
                    out.push(std::slice::from_raw_parts(buf, usize::from(slot.len)).to_vec());
                    i = crate::sys::ring_next(i, SLOTS);
                }
                self.tx_seen[ring as usize] = head;
                (*r).tail = (head + SLOTS - 1) % SLOTS;
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{Kernel, RINGS, SLOTS};
    use super::*;

    #[test]
    fn a_device_that_is_not_netmap_refuses_the_registration() {
        // /dev/null opens, but answers NIOCCTRL with ENOTTY.
        let err = Binding::open(Path::new("/dev/null"), "eth0", 0, Dir::Tx)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("netmap: eth0: binding tx ring 0 was refused: "),
            "{err}"
        );
    }

    #[test]
    fn rings_are_found_where_the_interface_descriptor_says() {
        let kernel = Kernel::new();
        for ring in 0..RINGS as usize {
            for dir in [Dir::Rx, Dir::Tx] {
                let b = kernel.bind(ring, dir).unwrap();
                assert_eq!(b.num_slots(), SLOTS);
                let first = b.slot(0).buf_idx;
                let expected = (u32::from(dir == Dir::Rx) * RINGS + ring as u32) * SLOTS;
                assert_eq!(first, expected, "{dir:?} ring {ring}");
            }
        }
        let err = kernel.bind(RINGS as usize, Dir::Rx).err().unwrap();
        assert!(
            err.to_string()
                .contains("the port needs rx ring 2 but the interface has 2"),
            "{err}"
        );
    }

    #[test]
    fn a_corrupt_ring_is_refused() {
        let kernel = Kernel::new();
        kernel.poke_ring(0, Dir::Rx, |r| r.num_slots = 1 << 30);
        let err = kernel.bind(0, Dir::Rx).err().unwrap();
        assert!(err.to_string().contains("slots beyond the region"), "{err}");
        kernel.poke_ring(1, Dir::Tx, |r| r.dir = NR_DIR_RX);
        let err = kernel.bind(1, Dir::Tx).err().unwrap();
        assert!(err.to_string().contains("direction"), "{err}");
    }

    #[test]
    fn buffers_outside_the_region_are_not_handed_out() {
        let kernel = Kernel::new();
        let b = kernel.bind(0, Dir::Rx).unwrap();
        assert!(b.buffer(0, b.buf_size()).is_some());
        assert!(b.buffer(0, b.buf_size() + 1).is_none());
        assert!(b.buffer(u32::MAX, 1).is_none());
    }
}
