//! Steering rules as rte_flow rules: match the outer Ethernet header (destination MAC
//! under a mask, EtherType), send to a receive queue.
#![allow(unsafe_code)]

use std::ffi::CStr;

use dataplane::dpdk_config::{FlowRule, FlowRules};

use crate::ffi;

/// Validates and creates every rule of `rules` on `port_id`, in order. On the first
/// rule the device refuses, the rules already created are removed and the refusal is
/// returned (why, in DPDK's words).
pub(crate) fn install(port_id: u16, rules: &FlowRules) -> Result<usize, String> {
    for rule in &rules.rules {
        if let Err(why) = create(port_id, rule) {
            flush(port_id);
            return Err(format!("rule `{}`: {why}", rule.name));
        }
    }
    Ok(rules.rules.len())
}

/// Removes every rte_flow rule of `port_id`.
pub(crate) fn flush(port_id: u16) {
    let mut error = ffi::rte_flow_error::default();
    // SAFETY: `error` is a valid out-parameter; the call only touches the port's rules.
    // A port without rte_flow answers ENOSYS, which leaves nothing to remove.
    unsafe { ffi::rte_flow_flush(port_id, &mut error) };
}

fn create(port_id: u16, rule: &FlowRule) -> Result<(), String> {
    let mut spec = ffi::rte_flow_item_eth::default();
    let mut mask = ffi::rte_flow_item_eth::default();
    let mut spec_hdr = ffi::rte_ether_hdr::default();
    let mut mask_hdr = ffi::rte_ether_hdr::default();
    if let Some(dst) = &rule.dst {
        spec_hdr.dst_addr.addr_bytes = dst.spec.octets();
        mask_hdr.dst_addr.addr_bytes = dst.mask.octets();
    }
    if let Some(ether_type) = rule.ether_type {
        spec_hdr.ether_type = ether_type.to_be();
        mask_hdr.ether_type = 0xffff;
    }
    spec.__bindgen_anon_1.hdr = spec_hdr;
    mask.__bindgen_anon_1.hdr = mask_hdr;

    let pattern = [
        ffi::rte_flow_item {
            type_: ffi::RTE_FLOW_ITEM_TYPE_ETH,
            spec: (&raw const spec).cast(),
            last: std::ptr::null(),
            mask: (&raw const mask).cast(),
        },
        ffi::rte_flow_item {
            type_: ffi::RTE_FLOW_ITEM_TYPE_END,
            ..Default::default()
        },
    ];
    let queue = ffi::rte_flow_action_queue { index: rule.queue };
    let actions = [
        ffi::rte_flow_action {
            type_: ffi::RTE_FLOW_ACTION_TYPE_QUEUE,
            conf: (&raw const queue).cast(),
        },
        ffi::rte_flow_action {
            type_: ffi::RTE_FLOW_ACTION_TYPE_END,
            conf: std::ptr::null(),
        },
    ];
    let mut attr = ffi::rte_flow_attr::default();
    attr.set_ingress(1);

    let mut error = ffi::rte_flow_error::default();
    // SAFETY: attr, pattern (ended by END) and actions (ended by END) and what they
    // point to live until the call returns; `error` is a valid out-parameter.
    let rc = unsafe {
        ffi::rte_flow_validate(
            port_id,
            &attr,
            pattern.as_ptr(),
            actions.as_ptr(),
            &mut error,
        )
    };
    if rc != 0 {
        return Err(describe("rte_flow_validate", rc, &error));
    }
    // SAFETY: as for rte_flow_validate; the device copies what it keeps.
    let flow = unsafe {
        ffi::rte_flow_create(
            port_id,
            &attr,
            pattern.as_ptr(),
            actions.as_ptr(),
            &mut error,
        )
    };
    if flow.is_null() {
        return Err(describe("rte_flow_create", -ffi::last_errno(), &error));
    }
    Ok(())
}

/// `call` failed with `rc` (a negative errno): DPDK's message and the error number.
fn describe(call: &str, rc: i32, error: &ffi::rte_flow_error) -> String {
    let base = ffi::error_message(rc);
    if error.message.is_null() {
        return format!("{call}: {base}");
    }
    // SAFETY: a non-null message is a NUL-terminated static string of the driver.
    let msg = unsafe { CStr::from_ptr(error.message) }.to_string_lossy();
    if base.starts_with(msg.as_ref()) {
        format!("{call}: {base}")
    } else {
        format!("{call}: {msg}: {base}")
    }
}
