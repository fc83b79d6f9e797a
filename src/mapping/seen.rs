//! The external ids a run has already mapped, kept small enough for million-row inputs.
//!
//! A run rejects a second row with the same external id, so it must remember every id. The
//! ids themselves would cost ~100 bytes each in a `HashSet<String>` (130 MB of a 1M-row
//! preview); a 96-bit fingerprint (SHA-256, truncated) costs 13 bytes of table whatever the
//! id's length. Two different ids share a fingerprint with a probability of 2^-96 per pair
//! (about 10^-17 for a million rows), and the only effect would be one row reported as
//! repeated.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use sha2::{Digest, Sha256};

/// The set of external ids seen so far.
#[derive(Debug, Default)]
pub struct SeenIds(HashSet<Fingerprint, BuildHasherDefault<FingerprintHasher>>);

impl SeenIds {
    /// Record `id`; `false` when it was recorded before.
    pub fn insert(&mut self, id: &str) -> bool {
        self.0.insert(Fingerprint::of(id))
    }
}

/// The first 96 bits of the SHA-256 of an id (byte-aligned, so a table slot is 12 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint([u8; 12]);

impl Fingerprint {
    fn of(id: &str) -> Fingerprint {
        let digest = Sha256::digest(id.as_bytes());
        let mut bytes = [0u8; 12];
        for (to, from) in bytes.iter_mut().zip(digest.iter()) {
            *to = *from;
        }
        Fingerprint(bytes)
    }
}

impl Hash for Fingerprint {
    /// The fingerprint is already uniformly distributed: its first 64 bits are the hash.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        for (to, from) in first.iter_mut().zip(self.0.iter()) {
            *to = *from;
        }
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Passes a fingerprint's own 64 hash bits through.
#[derive(Debug, Default)]
struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::SeenIds;

    #[test]
    fn a_repeated_id_is_reported_and_distinct_ids_are_not() {
        let mut seen = SeenIds::default();
        assert!(seen.insert("beeb8da1-658e-4c67-b893-a2eefb32555e"));
        assert!(seen.insert("beeb8da1-658e-4c67-b893-a2eefb32555f"));
        assert!(seen.insert(""));
        assert!(!seen.insert("beeb8da1-658e-4c67-b893-a2eefb32555e"));
        assert!(!seen.insert(""));
        for i in 0..10_000 {
            assert!(seen.insert(&format!("OPP-{i}")));
        }
        assert!(!seen.insert("OPP-9999"));
    }
}
