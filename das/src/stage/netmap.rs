//! `netmap:IFACE` ports, with the `netmap` feature (the `das-netmap` crate).

use anyhow::Result;
use dataplane::afpacket::RxLayout;
use dataplane::port::Port;

/// Opens a netmap port named `name` on `iface`: receive queues laid out as `rx` (queue
/// q on NIC ring q) and `tx` transmit queues.
#[cfg(feature = "netmap")]
pub fn open(name: &str, iface: &str, rx: RxLayout, tx: usize) -> Result<Box<dyn Port>> {
    let config = das_netmap::NetmapConfig::new(iface, rx, tx);
    Ok(Box::new(das_netmap::NetmapPort::open(name, &config)?))
}

/// Without the `netmap` feature there is no netmap port: says how to get one.
#[cfg(not(feature = "netmap"))]
pub fn open(_name: &str, _iface: &str, _rx: RxLayout, _tx: usize) -> Result<Box<dyn Port>> {
    anyhow::bail!("built without netmap: rebuild with --features netmap")
}
