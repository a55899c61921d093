//! A cheap hash for the maps a stack consults per packet or per socket.
//!
//! std's SipHash was 5% of the poll thread's time in bulk transfers at a
//! 1500-byte MTU, paid twice per segment sent. This is a multiply-rotate
//! hash over 8-byte words with a final mix, keyed by a per-stack random seed
//! as Linux keys its connection tables with a boot-time secret: a peer cannot
//! choose colliding keys ahead of time, though the hash is not cryptographic.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// Builds hashers keyed by one seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        // Spread the seed's bits: stacks made with nearby seeds differ.
        Seeded(mix(seed ^ 0x6a09_e667_f3bc_c908))
    }
}

impl BuildHasher for Seeded {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

/// Unkeyed by default (`BuildHasherDefault`), for keys no peer chooses.
#[derive(Default)]
pub struct FastHasher(u64);

impl FastHasher {
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // hashbrown takes buckets from the low bits and tags from the top 7.
        mix(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.word(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.word(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.word(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.word(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.word(n as u64);
    }
}

/// splitmix64's finalizer: every input bit reaches every output bit.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    impl Seeded {
        fn hash_bytes(&self, bytes: &[u8]) -> u64 {
            let mut h = self.build_hasher();
            h.write(bytes);
            h.finish()
        }
    }

    #[test]
    fn seeds_keys_and_lengths_all_count() {
        let (a, b) = (Seeded::new(1), Seeded::new(2));
        assert_ne!(a.hash_bytes(b"segment"), b.hash_bytes(b"segment"));
        assert_ne!(a.hash_bytes(b"ab"), a.hash_bytes(b"ab\0"));
        assert_ne!(a.hash_bytes(b"12345678"), a.hash_bytes(b"12345679"));
        assert_eq!(a.hash_bytes(b"same"), a.hash_bytes(b"same"));
    }

    #[test]
    fn consecutive_keys_spread_over_buckets() {
        // The low 10 bits of 4096 consecutive keys: hashbrown's buckets.
        let s = Seeded::new(7);
        let buckets: HashSet<u64> = (0u32..4096)
            .map(|i| s.hash_bytes(&i.to_be_bytes()) & 1023)
            .collect();
        assert!(
            buckets.len() > 900,
            "{} of 1024 buckets used",
            buckets.len()
        );
    }
}
