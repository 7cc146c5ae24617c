//! The keys of the file's rows seen so far, each with its first line: 96 bits of two
//! independently keyed hashes instead of the address, so a false "duplicate" would take a 96-bit
//! collision (about 1 in 10^17 for a 1,000,000-row file). An open-addressing table of 16-byte
//! slots, sized once from the file's line count: a hash map of 128-bit keys with their `u64`
//! lines held 50 MB for 1,000,000 rows and twice that while it grew.

use std::collections::HashMap;

/// The most keys [`Seen`] is sized for up front; beyond, it doubles as it fills.
pub(super) const SEEN_PRESIZE_MAX: usize = 2_000_000;

pub(super) struct Seen {
    a: std::hash::RandomState,
    b: std::hash::RandomState,
    /// `[low 32 bits of a, high 32 bits of a, 32 bits of b, first line]`; line 0 (never a
    /// record's: the header is line 1) marks a free slot.
    slots: Vec<[u32; 4]>,
    len: usize,
    /// First lines beyond `u32::MAX`, stored in the slot as `u32::MAX`.
    far: HashMap<[u32; 3], u64>,
}

impl Seen {
    pub(super) fn new() -> Self {
        Self::with_capacity(0)
    }

    /// Room for `n` keys without growing.
    pub(super) fn with_capacity(n: usize) -> Self {
        Seen {
            a: std::hash::RandomState::new(),
            b: std::hash::RandomState::new(),
            slots: vec![[0; 4]; Self::slots_for(n)],
            len: 0,
            far: HashMap::new(),
        }
    }

    /// Slots for `n` keys at a load of at most 7/8 (linear probing stays short).
    fn slots_for(n: usize) -> usize {
        (n + n / 7 + 1).max(64)
    }

    fn home(a: u64, slots: usize) -> usize {
        // The high bits of a * slots / 2^64: spread over any table size, no power of two needed.
        ((u128::from(a) * slots as u128) >> 64) as usize
    }

    /// The first line of `key`, or None (and `line` is remembered as its first).
    pub(super) fn check(&mut self, key: &str, line: u64) -> Option<u64> {
        use std::hash::BuildHasher;
        let a = self.a.hash_one(key);
        let fp = [a as u32, (a >> 32) as u32, self.b.hash_one(key) as u32];
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let n = self.slots.len();
        let mut i = Self::home(a, n);
        loop {
            let slot = &mut self.slots[i];
            if slot[3] == 0 {
                let stored = u32::try_from(line).unwrap_or(u32::MAX);
                if stored == u32::MAX {
                    self.far.insert(fp, line);
                }
                *slot = [fp[0], fp[1], fp[2], stored];
                self.len += 1;
                return None;
            }
            if slot[..3] == fp {
                return Some(match slot[3] {
                    u32::MAX => self.far.get(&fp).copied().unwrap_or(u64::from(u32::MAX)),
                    l => u64::from(l),
                });
            }
            i = if i + 1 == n { 0 } else { i + 1 };
        }
    }

    /// Doubles the table (only when the count it was sized for was too small).
    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![[0; 4]; n]);
        for slot in old.into_iter().filter(|s| s[3] != 0) {
            let a = u64::from(slot[0]) | (u64::from(slot[1]) << 32);
            let mut i = Self::home(a, n);
            while self.slots[i][3] != 0 {
                i = if i + 1 == n { 0 } else { i + 1 };
            }
            self.slots[i] = slot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grown from the smallest table past its presize, every key keeps its first line, and a
    /// line beyond 32 bits comes back whole.
    #[test]
    fn seen_keeps_first_lines_while_growing() {
        let mut seen = Seen::with_capacity(3);
        for i in 0..10_000u64 {
            assert_eq!(seen.check(&format!("k{i}@example.de"), i + 2), None);
        }
        let far = u64::from(u32::MAX) + 7;
        assert_eq!(seen.check("weit@example.de", far), None);
        for i in (0..10_000u64).step_by(97) {
            assert_eq!(seen.check(&format!("k{i}@example.de"), 99_999), Some(i + 2));
        }
        assert_eq!(seen.check("weit@example.de", 5), Some(far));
        assert_eq!(seen.len, 10_001);
        assert!(seen.slots.len() * 7 >= seen.len * 8);
    }
}
