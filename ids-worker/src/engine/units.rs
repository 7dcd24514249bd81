//! How a direction's acknowledged TCP data becomes inspected units.
//!
//! While the flow's service is unknown the data waits and the wizard looks at it;
//! once the service is known its cutter takes over from the start of the waiting data
//! (the HTTP parser, or the service's splitter). When a splitter finds data that is
//! not its protocol, when the wizard gives up, or when acknowledged data was never
//! received (a hole), the direction falls back to the atom cutter (a unit every two
//! segments of at least [`ATOM_BYTES`] bytes) and is marked aborted, so its packets
//! are also inspected one by one. An acknowledged FIN flushes what the cutter holds.

use crate::engine::detect::{BufferSet, Fresh, PacketInfo};
use crate::engine::flow::Flow;
use crate::engine::http::{Section, SectionKind};
use crate::engine::output::{Alert, PacketKind};
use crate::engine::service::{Service, Verdict};
use crate::engine::stream::splitter::{LengthState, SslState};
use crate::engine::stream::{ATOM_BYTES, ATOM_SEGMENTS, Cutter, Piece, Reassembly, Scan, Splitter};
use crate::engine::{AlertSpec, Here, State, inspect, stream_bytes};

/// Bytes a direction may hold while its service is being identified.
const MAX_UNIDENTIFIED: usize = 64 * 1024;

/// Bytes of one reassembled unit at most (longer units are cut).
pub const MAX_UNIT: usize = 64 * 1024;

/// The cutter for a service's data.
fn cutter_for(s: Service) -> Cutter {
    match s {
        Service::Http => Cutter::Http,
        Service::Ssl => Cutter::Splitter(Splitter::Ssl(SslState::default())),
        Service::NetbiosSsn => Cutter::Splitter(Splitter::Netbios(LengthState::default())),
        Service::Dcerpc => Cutter::Splitter(Splitter::Dcerpc(LengthState::default())),
        Service::Dns => Cutter::Splitter(Splitter::Length16(LengthState::default())),
        Service::Ftp
        | Service::Smtp
        | Service::Pop3
        | Service::Imap
        | Service::Telnet
        | Service::Sip => Cutter::Splitter(Splitter::Lines),
        Service::Ssh | Service::Sunrpc => Cutter::Atom { segments: 0 },
    }
}

/// Sets a flow's service (and its HTTP state).
pub(crate) fn set_service(flow: &mut Flow, s: Service) {
    flow.service = Some(s);
    if s == Service::Http && flow.http.is_none() {
        flow.http = Some(Box::default());
    }
}

/// Hands on the data of direction `side` that `ack` acknowledges, and inspects the
/// units it completes. `info` is the packet being processed.
pub(crate) fn flush(
    st: &mut State,
    flow: &mut Flow,
    side: usize,
    ack: u32,
    info: &PacketInfo,
    here: Here,
    out: &mut Vec<Alert>,
) {
    let Some(tcp) = flow.tcp.as_mut() else {
        return;
    };
    let half = &mut tcp.halves[side];
    let fin_acked = half.fin_acked(ack);
    let mut pieces: Vec<Option<Vec<u8>>> = Vec::new();
    half.acked(Some(ack), false, |p| {
        pieces.push(match p {
            Piece::Data(d) => Some(d.to_vec()),
            Piece::Hole => None,
        })
    });
    if pieces.is_empty() && !fin_acked {
        return;
    }
    let view = oriented(info, flow, side == 0);
    for piece in pieces {
        match piece {
            Some(data) => cut(st, flow, side, &data, &view, here, out),
            None => hole(st, flow, side, &view, here, out),
        }
    }
    atom_flush(st, flow, side, &view, here, out);
    if fin_acked {
        finish(st, flow, side, &view, here, out);
    }
}

/// `info` turned to describe data sent by the client (`from_client`) or the server.
fn oriented(info: &PacketInfo, flow: &Flow, from_client: bool) -> PacketInfo {
    let mut v = *info;
    if info.from_client.unwrap_or(true) != from_client {
        std::mem::swap(&mut v.src, &mut v.dst);
        std::mem::swap(&mut v.sport, &mut v.dport);
    }
    v.from_client = Some(from_client);
    v.rebuilt = true;
    v.tcp = None;
    v.icmp = None;
    v.established = flow.established();
    v.service = flow.service;
    v.stream_bytes = stream_bytes(flow);
    v
}

/// The reassembly state of one direction.
fn unit_mut(flow: &mut Flow, side: usize) -> Option<&mut Reassembly> {
    flow.tcp.as_mut().map(|t| &mut t.units[side])
}

/// Installs `cutter` and returns the waiting data, to be cut again by it.
fn take_pending(flow: &mut Flow, side: usize, cutter: Cutter) -> Vec<u8> {
    match unit_mut(flow, side) {
        Some(u) => {
            u.cutter = cutter;
            std::mem::take(&mut u.pending)
        }
        None => Vec::new(),
    }
}

/// Falls back to the atom cutter (the direction is aborted) and returns the waiting
/// data, to be cut again.
fn fall_back(flow: &mut Flow, side: usize) -> Vec<u8> {
    if let Some(u) = unit_mut(flow, side) {
        u.aborted = true;
    }
    take_pending(flow, side, Cutter::Atom { segments: 0 })
}

/// Cuts one acknowledged segment's data.
fn cut(
    st: &mut State,
    flow: &mut Flow,
    side: usize,
    data: &[u8],
    view: &PacketInfo,
    here: Here,
    out: &mut Vec<Alert>,
) {
    let Some(unit) = unit_mut(flow, side) else {
        return;
    };
    match &unit.cutter {
        Cutter::Wizard => {
            unit.pending.extend_from_slice(data);
            let waiting = unit.pending.len();
            let verdict = match flow.service {
                Some(s) => Verdict::Found(s),
                None => flow.wizard.look(side == 0, data),
            };
            let again = match verdict {
                Verdict::Found(s) => {
                    set_service(flow, s);
                    take_pending(flow, side, cutter_for(s))
                }
                Verdict::Searching if waiting <= MAX_UNIDENTIFIED => return,
                Verdict::Searching | Verdict::Failed => fall_back(flow, side),
            };
            cut(st, flow, side, &again, view, here, out);
        }
        Cutter::Http => {
            let Some(mut http) = flow.http.take() else {
                let again = fall_back(flow, side);
                cut(st, flow, side, &again, view, here, out);
                return;
            };
            let mut sections = std::mem::take(&mut st.sections);
            sections.clear();
            http.feed(side == 0, data, &mut sections);
            let aborted = http.aborted(side == 0);
            flow.http = Some(http);
            for s in &sections {
                inspect_section(st, flow, view, side, s, here, out);
            }
            st.sections = sections;
            if aborted {
                // What the parser could not read is not inspected again.
                fall_back(flow, side);
            }
        }
        Cutter::Splitter(_) => {
            let Cutter::Splitter(mut splitter) = std::mem::take(&mut unit.cutter) else {
                return;
            };
            let mut rest = data;
            while !rest.is_empty() {
                let Some(unit) = unit_mut(flow, side) else {
                    return;
                };
                match splitter.scan(rest) {
                    Scan::Flush(n) => {
                        let n = n.clamp(1, rest.len());
                        unit.pending.extend_from_slice(&rest[..n]);
                        rest = &rest[n..];
                        let pdu = std::mem::take(&mut unit.pending);
                        inspect_unit(st, flow, side, &pdu, view, here, out);
                    }
                    Scan::Search => {
                        unit.pending.extend_from_slice(rest);
                        rest = &[];
                        if unit.pending.len() >= MAX_UNIT {
                            let pdu = std::mem::take(&mut unit.pending);
                            inspect_unit(st, flow, side, &pdu, view, here, out);
                        }
                    }
                    Scan::Abort => {
                        unit.pending.extend_from_slice(rest);
                        let again = fall_back(flow, side);
                        cut(st, flow, side, &again, view, here, out);
                        return;
                    }
                }
            }
            if let Some(unit) = unit_mut(flow, side) {
                unit.cutter = Cutter::Splitter(splitter);
            }
        }
        Cutter::Atom { segments } => {
            // The unit is made once every acknowledged segment is in (atom_flush).
            unit.cutter = Cutter::Atom {
                segments: segments + 1,
            };
            unit.pending.extend_from_slice(data);
        }
    }
}

/// After the acknowledged data: the atom cutter makes a unit of everything it holds,
/// if that is at least [`ATOM_SEGMENTS`] segments and [`ATOM_BYTES`] bytes.
fn atom_flush(
    st: &mut State,
    flow: &mut Flow,
    side: usize,
    view: &PacketInfo,
    here: Here,
    out: &mut Vec<Alert>,
) {
    let Some(unit) = unit_mut(flow, side) else {
        return;
    };
    if let Cutter::Atom { segments } = unit.cutter
        && segments >= ATOM_SEGMENTS
        && unit.pending.len() >= ATOM_BYTES
    {
        unit.cutter = Cutter::Atom { segments: 0 };
        let pdu = std::mem::take(&mut unit.pending);
        inspect_unit(st, flow, side, &pdu, view, here, out);
    }
}

/// Data that was never received was skipped: a protocol-aware cutter loses its place
/// and falls back to the atom cutter (the data it held is cut again); the atom cutter
/// makes a unit of what it holds.
fn hole(
    st: &mut State,
    flow: &mut Flow,
    side: usize,
    view: &PacketInfo,
    here: Here,
    out: &mut Vec<Alert>,
) {
    let Some(unit) = unit_mut(flow, side) else {
        return;
    };
    match unit.cutter {
        Cutter::Atom { .. } => {
            unit.cutter = Cutter::Atom { segments: 0 };
            let pdu = std::mem::take(&mut unit.pending);
            inspect_unit(st, flow, side, &pdu, view, here, out);
        }
        Cutter::Http | Cutter::Splitter(_) | Cutter::Wizard => {
            if unit.cutter == Cutter::Http
                && let Some(http) = flow.http.as_mut()
            {
                http.abort(side == 0);
            }
            let again = fall_back(flow, side);
            cut(st, flow, side, &again, view, here, out);
        }
    }
}

/// The direction's FIN was acknowledged: its cutter hands out what it holds.
fn finish(
    st: &mut State,
    flow: &mut Flow,
    side: usize,
    view: &PacketInfo,
    here: Here,
    out: &mut Vec<Alert>,
) {
    let Some(unit) = unit_mut(flow, side) else {
        return;
    };
    match unit.cutter {
        Cutter::Wizard => unit.pending.clear(),
        Cutter::Http => {
            if let Some(mut http) = flow.http.take() {
                let mut sections = std::mem::take(&mut st.sections);
                sections.clear();
                http.finish(side == 0, &mut sections);
                flow.http = Some(http);
                for s in &sections {
                    inspect_section(st, flow, view, side, s, here, out);
                }
                st.sections = sections;
            }
        }
        Cutter::Splitter(_) | Cutter::Atom { .. } => {
            let pdu = std::mem::take(&mut unit.pending);
            inspect_unit(st, flow, side, &pdu, view, here, out);
        }
    }
}

/// Inspects one reassembled unit of non-HTTP data.
fn inspect_unit(
    st: &mut State,
    flow: &mut Flow,
    side: usize,
    data: &[u8],
    view: &PacketInfo,
    here: Here,
    out: &mut Vec<Alert>,
) {
    if data.is_empty() {
        return;
    }
    st.stats.units += 1;
    let mut info = *view;
    info.service = flow.service;
    info.dsize = data.len();
    let alert = AlertSpec {
        kind: PacketKind::StreamTcp,
        pkt_len: data.len() as u32,
    };
    inspect(
        st,
        flow,
        &info,
        &BufferSet::packet(data),
        Fresh::PKT,
        side,
        alert,
        here,
        out,
    );
    flow.session_alerts[side].clear();
}

/// Inspects one HTTP section.
fn inspect_section(
    st: &mut State,
    flow: &mut Flow,
    view: &PacketInfo,
    side: usize,
    s: &Section,
    here: Here,
    out: &mut Vec<Alert>,
) {
    st.stats.units += 1;
    let mut info = *view;
    info.service = flow.service;
    let (buffers, fresh) = match s.kind {
        SectionKind::Header => (
            BufferSet {
                pkt: &[],
                file_data: None,
                http: Some(&s.message),
                client_body: None,
                raw_body: None,
            },
            Fresh::HTTP_HEADER,
        ),
        SectionKind::Body => (
            BufferSet {
                pkt: &s.raw,
                file_data: Some(s.file_data()),
                http: Some(&s.message),
                client_body: s.message.request.then_some(&s.body[..]),
                raw_body: Some(&s.raw),
            },
            Fresh::HTTP_BODY,
        ),
    };
    info.dsize = s.raw.len();
    let alert = AlertSpec {
        kind: PacketKind::StreamTcp,
        pkt_len: s.raw.len() as u32,
    };
    inspect(st, flow, &info, &buffers, fresh, side, alert, here, out);
    flow.session_alerts[side].clear();
}
