//! Pcap and pcapng ports.
