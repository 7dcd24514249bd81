//! Traffic fixtures for the benchmarks: IPv4/UDP frames of chosen sizes over many flows.

/// Frame lengths (without FCS) the benchmarks sweep: the minimum Ethernet frame, a
/// mid-size packet and a full MTU frame.
pub const SIZES: [usize; 3] = [60, 590, 1514];

/// The simple IMIX: 60, 590 and 1514-byte frames in the ratio 7:4:1.
pub const IMIX: [(usize, usize); 3] = [(60, 7), (590, 4), (1514, 1)];

/// An IPv4/UDP frame of `len` bytes (at least 42) in flow `flow` (distinct flows have
/// distinct addresses and ports).
pub fn udp_frame(flow: u32, len: usize) -> Vec<u8> {
    let len = len.max(42);
    let mut f = vec![0u8; len];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&((len - 14) as u16).to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, (flow >> 16) as u8, (flow >> 8) as u8, flow as u8]);
    f[30..34].copy_from_slice(&[192, 0, 2, (flow % 251) as u8]);
    let sport = 1024 + (flow.wrapping_mul(2_654_435_761) >> 16) as u16 % 60_000;
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f[38..40].copy_from_slice(&((len - 34) as u16).to_be_bytes());
    f
}

/// `count` frames of `len` bytes spread over `flows` flows.
pub fn frames(count: usize, len: usize, flows: u32) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| udp_frame(i as u32 % flows, len))
        .collect()
}

/// `count` frames following [`IMIX`], interleaved, over `flows` flows.
pub fn imix_frames(count: usize, flows: u32) -> Vec<Vec<u8>> {
    let cycle: Vec<usize> = IMIX
        .iter()
        .flat_map(|&(len, weight)| std::iter::repeat_n(len, weight))
        .collect();
    (0..count)
        .map(|i| udp_frame(i as u32 % flows, cycle[(i * 5) % cycle.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_as_udp_of_the_asked_length() {
        for len in SIZES {
            let f = udp_frame(7, len);
            assert_eq!(f.len(), len);
            let p = dataplane::wire::parse(&f).unwrap();
            assert!(p.ports().is_some());
            assert!(!p.truncated);
        }
        let mix = imix_frames(120, 10);
        let small = mix.iter().filter(|f| f.len() == 60).count();
        assert_eq!(small, 70);
    }
}
