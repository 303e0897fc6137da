//! The column encoder's dictionaries: open-addressing tables made for each
//! kind of value. An integer costs one multiply; text up to 16 bytes is
//! hashed and compared with word loads, without calls.

use super::Kind;

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Loads `b` as words for hashing and comparing: the first and last 8 (or 4,
/// or 1) bytes, which overlap for short values and so cover every byte of a
/// value up to 16 bytes.
#[inline(always)]
fn words(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    if n >= 8 {
        (u64::from_le_bytes(b[..8].try_into().expect("8")), u64::from_le_bytes(b[n - 8..].try_into().expect("8")))
    } else if n >= 4 {
        (
            u64::from(u32::from_le_bytes(b[..4].try_into().expect("4"))),
            u64::from(u32::from_le_bytes(b[n - 4..].try_into().expect("4"))),
        )
    } else if n > 0 {
        (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0)
    } else {
        (0, 0)
    }
}

#[inline(always)]
pub(super) fn hash_bytes(b: &[u8]) -> u64 {
    let (a, z) = words(b);
    let mut h = (b.len() as u64 ^ a).wrapping_mul(MIX);
    h = (h.rotate_left(23) ^ z).wrapping_mul(MIX);
    if b.len() > 16 {
        for c in b[8..b.len() - 8].chunks(8) {
            let (w, _) = words(c);
            h = (h.rotate_left(23) ^ w).wrapping_mul(MIX);
        }
    }
    h ^ (h >> 32)
}

/// Equality of two values of the same length.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() <= 16 {
        words(a) == words(b)
    } else {
        a == b
    }
}

/// The first 8 bytes, big-endian, zero-padded: if `prefix(a) < prefix(b)`
/// then `a < b`; equal prefixes need the full comparison.
#[inline(always)]
pub(super) fn prefix(b: &[u8]) -> u64 {
    if b.len() >= 8 {
        u64::from_be_bytes(b[..8].try_into().expect("8"))
    } else {
        b.iter().enumerate().fold(0u64, |x, (i, &c)| x | u64::from(c) << (56 - 8 * i))
    }
}

/// Values hashed and their table slots touched ahead of the lookups: the
/// loads of a group are independent, so their cache misses overlap instead of
/// coming one after another (a large dictionary's table does not fit the cache).
pub(super) const GROUP: usize = 16;

/// The packed form of a text value's first bytes kept in its slot: exact for
/// values up to 8 bytes (with the length), the first 8 bytes otherwise.
#[inline(always)]
fn head(b: &[u8]) -> u64 {
    let (a, z) = words(b);
    if b.len() <= 8 {
        a | z << 32
    } else {
        a
    }
}

/// A slot's tag: 24 bits of hash, the length (255 for longer), and id + 1 (0 = empty).
#[inline(always)]
fn tag(h: u64, len: usize, id: u32) -> u64 {
    (h >> 40) << 40 | (len.min(255) as u64) << 32 | u64::from(id + 1)
}

const TAG_KEY: u64 = !0xFFFF_FFFF;

/// A dictionary: value → id in first-seen order.
pub(super) struct Dict {
    /// The open-addressing table: `[tag, key]`, where the key is the integer
    /// itself or the text's [`head`].
    slots: Vec<[u64; 2]>,
    pub(super) len: usize,
    /// Integer values by id.
    pub(super) ints: Vec<i64>,
    /// Text values by id: `arena[starts[id]..starts[id + 1]]`.
    arena: Vec<u8>,
    starts: Vec<u32>,
    /// Text values' [`prefix`] by id, so page bounds mostly compare integers.
    prefixes: Vec<u64>,
}

impl Dict {
    pub(super) fn new() -> Self {
        Self {
            slots: vec![[0; 2]; 1024],
            len: 0,
            ints: Vec::new(),
            arena: Vec::new(),
            starts: vec![0],
            prefixes: Vec::new(),
        }
    }

    pub(super) fn text(&self, id: u32) -> &[u8] {
        &self.arena[self.starts[id as usize] as usize..self.starts[id as usize + 1] as usize]
    }

    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    /// Loads the slots of `hashes` so the lookups that follow find them cached.
    #[inline(always)]
    pub(super) fn touch(&self, hashes: &[u64]) {
        let mask = self.mask();
        let acc = hashes.iter().fold(0u64, |acc, &h| acc ^ self.slots[h as usize & mask][0]);
        std::hint::black_box(acc);
    }

    fn grow_if_needed(&mut self, hash_of: impl Fn(&Self, u32) -> u64) {
        if (self.len + 1) * 2 <= self.slots.len() {
            return;
        }
        let mask = self.slots.len() * 2 - 1;
        let mut slots = vec![[0u64; 2]; mask + 1];
        for s in self.slots.iter().filter(|s| s[0] != 0) {
            let mut i = hash_of(self, (s[0] as u32) - 1) as usize & mask;
            while slots[i][0] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = *s;
        }
        self.slots = slots;
    }

    #[inline(always)]
    pub(super) fn intern_int(&mut self, v: i64, h: u64) -> u32 {
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let [t, k] = self.slots[i];
            if t == 0 {
                break;
            }
            if k == v as u64 {
                return (t as u32) - 1;
            }
            i = (i + 1) & mask;
        }
        let id = self.len as u32;
        self.slots[i] = [u64::from(id + 1), v as u64];
        self.ints.push(v);
        self.len += 1;
        self.grow_if_needed(|d, id| hash_int(d.ints[id as usize]));
        id
    }

    #[inline(always)]
    pub(super) fn intern_text(&mut self, v: &[u8], h: u64) -> u32 {
        let mask = self.mask();
        let want = tag(h, v.len(), 0) & TAG_KEY;
        let key = head(v);
        let mut i = h as usize & mask;
        loop {
            let [t, k] = self.slots[i];
            if t == 0 {
                break;
            }
            if t & TAG_KEY == want && k == key {
                let id = (t as u32) - 1;
                if v.len() <= 8 {
                    return id;
                }
                let (a, b) = (self.starts[id as usize] as usize, self.starts[id as usize + 1] as usize);
                if b - a == v.len() && same_bytes(&self.arena[a..b], v) {
                    return id;
                }
            }
            i = (i + 1) & mask;
        }
        let id = self.len as u32;
        self.slots[i] = [tag(h, v.len(), id), key];
        self.arena.extend_from_slice(v);
        self.starts.push(self.arena.len() as u32);
        self.prefixes.push(prefix(v));
        self.len += 1;
        self.grow_if_needed(|d, id| hash_bytes(d.text(id)));
        id
    }

    /// Bytes of the dictionary page (plain encoding: a length before each text).
    pub(super) fn plain_bytes(&self, kind: Kind) -> usize {
        match kind {
            Kind::Bytes => self.arena.len() + 4 * self.len,
            k => self.len * k.width(),
        }
    }

    /// The dictionary page's values, plain-encoded.
    pub(super) fn plain(&self, kind: Kind) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.plain_bytes(kind));
        match kind {
            Kind::I32 => self.ints.iter().for_each(|&v| out.extend_from_slice(&(v as i32).to_le_bytes())),
            Kind::I64 => self.ints.iter().for_each(|&v| out.extend_from_slice(&v.to_le_bytes())),
            Kind::Bytes => {
                for w in self.starts.windows(2) {
                    out.extend_from_slice(&(w[1] - w[0]).to_le_bytes());
                    out.extend_from_slice(&self.arena[w[0] as usize..w[1] as usize]);
                }
            }
        }
        out
    }

    /// The smallest and largest text among `ids`, looking at each distinct id
    /// once and at its text only when its 8-byte prefix ties with a bound's.
    pub(super) fn text_bounds(&self, ids: &[u32], seen: &mut Vec<u64>) -> Option<(u32, u32)> {
        seen.clear();
        seen.resize(self.len.div_ceil(64), 0);
        let mut bounds: Option<((u64, u32), (u64, u32))> = None;
        for &id in ids {
            let (w, bit) = (id as usize / 64, 1u64 << (id % 64));
            if seen[w] & bit != 0 {
                continue;
            }
            seen[w] |= bit;
            let p = self.prefixes[id as usize];
            let Some((lo, hi)) = &mut bounds else {
                bounds = Some(((p, id), (p, id)));
                continue;
            };
            if p < lo.0 || (p == lo.0 && self.text(id) < self.text(lo.1)) {
                *lo = (p, id);
            }
            if p > hi.0 || (p == hi.0 && self.text(id) > self.text(hi.1)) {
                *hi = (p, id);
            }
        }
        bounds.map(|(lo, hi)| (lo.1, hi.1))
    }
}

#[inline(always)]
pub(super) fn hash_int(v: i64) -> u64 {
    let h = (v as u64).wrapping_mul(MIX);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_order_implies_value_order() {
        let vals: [&[u8]; 9] = [b"", b"\0", b"a", b"a\0", b"ab", b"abcdefgh", b"abcdefgh\0", b"abcdefgi", b"b"];
        for a in vals {
            for b in vals {
                if prefix(a) < prefix(b) {
                    assert!(a < b, "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn word_equality_is_exact_up_to_16_bytes() {
        let base = b"0123456789abcdef";
        for n in 0..=16 {
            for i in 0..n {
                let mut other = base[..n].to_vec();
                other[i] ^= 1;
                assert!(!same_bytes(&base[..n], &other), "length {n}, byte {i}");
            }
            assert!(same_bytes(&base[..n], &base[..n]));
        }
    }

    #[test]
    fn dictionary_ids_follow_first_sight_and_survive_growth() {
        let mut d = Dict::new();
        let vals: Vec<String> = (0..5000).map(|i| format!("v{}", i * 7919 % 5000)).collect();
        let intern = |d: &mut Dict, v: &str| d.intern_text(v.as_bytes(), hash_bytes(v.as_bytes()));
        let ids: Vec<u32> = vals.iter().map(|v| intern(&mut d, v)).collect();
        assert_eq!(ids, (0..5000).collect::<Vec<u32>>());
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(intern(&mut d, v), i as u32);
            assert_eq!(d.text(i as u32), v.as_bytes());
        }
        // Same head and length, different tails; lengths around the 8-byte boundary.
        for v in ["abcdefgh-1", "abcdefgh-2", "abcdefgh", "abcdefg", "", "a", "ab"] {
            let id = intern(&mut d, v);
            assert_eq!(d.text(id), v.as_bytes());
        }
        assert_eq!(d.len, 5007);
        let mut n = Dict::new();
        for v in [5i64, -3, 5, i64::MIN, -3, i64::MAX] {
            n.intern_int(v, hash_int(v));
        }
        assert_eq!(n.ints, [5, -3, i64::MIN, i64::MAX]);
    }
}
