//! A cheap hasher for keys that are already uniformly distributed, and the
//! hash maps and sets keyed with it.

use std::hash::{BuildHasherDefault, Hasher};

/// A cheap hasher for keys that are already uniformly distributed (change
/// hashes, chunk checksums) or small integers: the load generator looks
/// these up several times per received frame, SipHash was a visible cost.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Change hashes are SHA-256 output: their first 8 bytes are enough.
        if let Some(w) = bytes.first_chunk::<8>() {
            self.mix(u64::from_le_bytes(*w));
        } else {
            for &b in bytes {
                self.mix(b as u64);
            }
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.mix(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

impl FastHasher {
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;
pub type HashMap<K, V> = std::collections::HashMap<K, V, FastBuild>;
pub type HashSet<K> = std::collections::HashSet<K, FastBuild>;
