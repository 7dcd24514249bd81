//! Ping sessions: ICMP echo requests and replies (ICMPv6 over IPv6), one second apart,
//! with the echo data a Unix `ping` (timestamp and byte pattern) or Windows `ping`
//! (the alphabet) puts in them.

use crate::flow::{FlowPackets, L4, Side};
use crate::frame;
use crate::hosts::Os;
use crate::mix::SizeMix;
use crate::rng::Rng;
use crate::tcp_flow::Timing;

/// Echo data of `len` bytes as `os`'s ping sends it at capture time `t_ns`.
fn echo_data(os: Os, t_ns: u64, len: usize) -> Vec<u8> {
    match os {
        Os::Windows => b"abcdefghijklmnopqrstuvwabcdefghi"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect(),
        Os::Linux | Os::Mac => {
            let mut d = Vec::with_capacity(len.max(16));
            d.extend_from_slice(&(t_ns / 1_000_000_000).to_le_bytes());
            d.extend_from_slice(&(t_ns / 1_000 % 1_000_000).to_le_bytes());
            d.extend((0x10u8..=0xff).cycle().take(len.saturating_sub(16)));
            d.truncate(len);
            d
        }
    }
}

/// Plays one ping session into `fp` from `t0` with identifier `ident`.
pub(crate) fn run(
    fp: &mut FlowPackets,
    rng: &mut Rng,
    timing: &Timing,
    mix: &SizeMix,
    t0: u64,
    os: Os,
    ident: u16,
) {
    let count = *rng.pick(&[1u16, 3, 4, 4, 4, 5]);
    let natural = if os == Os::Windows { 32 } else { 56 };
    let header = frame::ETH_HEADER + fp.ends().ip.header_len() + frame::ICMP_ECHO_HEADER;
    let first_seq = if os == Os::Windows {
        rng.range(1, 60_000) as u16
    } else {
        1
    };
    let mut t = t0;
    for i in 0..count {
        let len = mix
            .sample(rng)
            .map_or(natural, |frame_len| frame_len.saturating_sub(header));
        let data = echo_data(os, t, len);
        let seq = first_seq.wrapping_add(i);
        let stored = fp.store(&data);
        fp.push(
            t,
            Side::Client,
            L4::Echo {
                reply: false,
                ident,
                seq,
            },
            stored.clone(),
        );
        let reply_t = timing.react(Side::Server, t);
        fp.push(
            reply_t,
            Side::Server,
            L4::Echo {
                reply: true,
                ident,
                seq,
            },
            stored,
        );
        t += 1_000_000_000 + rng.range(0, 2_000_000) - 1_000_000 / 2;
        // Replies come back before the next request in all but extreme paths.
        t = t.max(reply_t + 1_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_data_shapes() {
        assert_eq!(
            echo_data(Os::Windows, 0, 32),
            b"abcdefghijklmnopqrstuvwabcdefghi"
        );
        let d = echo_data(Os::Linux, 1_704_067_200_123_456_789, 56);
        assert_eq!(d.len(), 56);
        assert_eq!(
            u64::from_le_bytes(d[..8].try_into().unwrap()),
            1_704_067_200
        );
        assert_eq!(u64::from_le_bytes(d[8..16].try_into().unwrap()), 123_456);
        assert_eq!(d[16], 0x10);
        assert_eq!(echo_data(Os::Linux, 5, 3).len(), 3);
        assert_eq!(echo_data(Os::Mac, 5, 0).len(), 0);
    }
}
