//! A bounded flow table: a hash map from [`FlowKey`] to a slab slot, and a
//! least-recently-used list over the slots for timeouts and eviction.

use std::collections::HashMap;

use super::key::{FlowKey, FxBuild};

const NIL: u32 = u32::MAX;

struct Slot<T> {
    key: FlowKey,
    value: T,
    last_ns: u64,
    prev: u32,
    next: u32,
}

/// A table of at most `capacity` flows with per-flow values `T`. Lookups touch the
/// flow (most recently used); the least recently used flow is evicted when a new one
/// does not fit, and [`FlowTable::expire`] removes flows idle longer than a timeout.
pub struct FlowTable<T> {
    map: HashMap<FlowKey, u32, FxBuild>,
    slots: Vec<Option<Slot<T>>>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    capacity: usize,
}

impl<T> std::fmt::Debug for FlowTable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("len", &self.map.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

/// Whether a lookup found the flow or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The flow existed.
    Found,
    /// The flow was created.
    Created,
}

impl<T> FlowTable<T> {
    /// A table for at most `capacity` flows (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        FlowTable {
            map: HashMap::with_capacity_and_hasher(capacity.min(1 << 16), FxBuild::default()),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            capacity,
        }
    }

    /// The number of flows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The flow for `key`, created with `make` if absent. When the table is full, the
    /// least recently used flow is removed first and handed to `evicted`.
    pub fn get_or_insert(
        &mut self,
        key: FlowKey,
        now_ns: u64,
        make: impl FnOnce() -> T,
        evicted: &mut Vec<(FlowKey, T)>,
    ) -> (&mut T, Lookup) {
        if let Some(&i) = self.map.get(&key) {
            self.touch(i, now_ns);
            let slot = self.slots[i as usize]
                .as_mut()
                .expect("mapped slot is live");
            return (&mut slot.value, Lookup::Found);
        }
        if self.map.len() >= self.capacity
            && let Some(old) = self.pop_tail()
        {
            evicted.push(old);
        }
        let slot = Slot {
            key,
            value: make(),
            last_ns: now_ns,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.push_head(i);
        let slot = self.slots[i as usize].as_mut().expect("new slot is live");
        (&mut slot.value, Lookup::Created)
    }

    /// The flow for `key`, if present (not touched).
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut T> {
        let i = *self.map.get(key)?;
        self.slots[i as usize].as_mut().map(|s| &mut s.value)
    }

    /// Removes the flow for `key`.
    pub fn remove(&mut self, key: &FlowKey) -> Option<T> {
        let i = self.map.remove(key)?;
        self.unlink(i);
        self.free.push(i);
        self.slots[i as usize].take().map(|s| s.value)
    }

    /// Removes the least recently used flows that have been idle longer than
    /// `timeout_ns(flow)` at `now_ns`, oldest first, into `out`.
    pub fn expire(
        &mut self,
        now_ns: u64,
        timeout_ns: impl Fn(&FlowKey, &T) -> u64,
        out: &mut Vec<(FlowKey, T)>,
    ) {
        while self.tail != NIL {
            let slot = self.slots[self.tail as usize]
                .as_ref()
                .expect("listed slot is live");
            if now_ns.saturating_sub(slot.last_ns) <= timeout_ns(&slot.key, &slot.value) {
                break;
            }
            match self.pop_tail() {
                Some(f) => out.push(f),
                None => break,
            }
        }
    }

    /// Removes every flow, least recently used first.
    pub fn drain(&mut self) -> Vec<(FlowKey, T)> {
        let mut out = Vec::with_capacity(self.map.len());
        while let Some(f) = self.pop_tail() {
            out.push(f);
        }
        self.slots.clear();
        self.free.clear();
        out
    }

    fn pop_tail(&mut self) -> Option<(FlowKey, T)> {
        if self.tail == NIL {
            return None;
        }
        let i = self.tail;
        self.unlink(i);
        let slot = self.slots[i as usize].take()?;
        self.map.remove(&slot.key);
        self.free.push(i);
        Some((slot.key, slot.value))
    }

    fn touch(&mut self, i: u32, now_ns: u64) {
        if let Some(s) = self.slots[i as usize].as_mut() {
            s.last_ns = s.last_ns.max(now_ns);
        }
        if self.head != i {
            self.unlink(i);
            self.push_head(i);
        }
    }

    fn push_head(&mut self, i: u32) {
        let old = self.head;
        if let Some(s) = self.slots[i as usize].as_mut() {
            s.prev = NIL;
            s.next = old;
        }
        if old != NIL {
            if let Some(s) = self.slots[old as usize].as_mut() {
                s.prev = i;
            }
        } else {
            self.tail = i;
        }
        self.head = i;
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = match self.slots[i as usize].as_ref() {
            Some(s) => (s.prev, s.next),
            None => return,
        };
        if prev != NIL {
            if let Some(s) = self.slots[prev as usize].as_mut() {
                s.next = next;
            }
        } else if self.head == i {
            self.head = next;
        }
        if next != NIL {
            if let Some(s) = self.slots[next as usize].as_mut() {
                s.prev = prev;
            }
        } else if self.tail == i {
            self.tail = prev;
        }
        if let Some(s) = self.slots[i as usize].as_mut() {
            s.prev = NIL;
            s.next = NIL;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::key::{Addr, Endpoint};
    use super::*;

    fn key(n: u16) -> FlowKey {
        FlowKey::new(
            17,
            Endpoint {
                addr: Addr::V4([10, 0, 0, 1]),
                port: n,
            },
            Endpoint {
                addr: Addr::V4([10, 0, 0, 2]),
                port: 53,
            },
        )
        .0
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut t = FlowTable::new(2);
        let mut ev = Vec::new();
        t.get_or_insert(key(1), 1, || 1, &mut ev);
        t.get_or_insert(key(2), 2, || 2, &mut ev);
        t.get_or_insert(key(1), 3, || 0, &mut ev);
        assert!(ev.is_empty());
        t.get_or_insert(key(3), 4, || 3, &mut ev);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].1, 2);
        assert_eq!(t.len(), 2);
        assert_eq!(*t.get_mut(&key(1)).unwrap(), 1);
    }

    #[test]
    fn expires_idle_flows_and_drains() {
        let mut t = FlowTable::new(10);
        let mut ev = Vec::new();
        for i in 0..5u16 {
            t.get_or_insert(key(i), u64::from(i) * 10, || i, &mut ev);
        }
        let mut out = Vec::new();
        t.expire(35, |_, _| 10, &mut out);
        let gone: Vec<u16> = out.iter().map(|f| f.1).collect();
        assert_eq!(gone, vec![0, 1, 2]);
        assert_eq!(t.remove(&key(3)), Some(3));
        assert_eq!(t.drain().len(), 1);
        assert!(t.is_empty());
        // Slots are reused after removal.
        t.get_or_insert(key(9), 100, || 9, &mut ev);
        assert_eq!(t.len(), 1);
    }
}
