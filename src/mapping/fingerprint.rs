//! The payload hash: what the ledger stores for each synced record and compares with the
//! export's next mapping of it. Push (`upload` decides what to send) and the morning tools
//! (`reconcile` tells a record changed in the CRM) use the same one.

use sha2::{Digest, Sha256};

use super::outcome::MappedRecord;
use super::write_json;
use crate::referral::Json;

/// The hash of what is sent for one record: the referral payload and, for a shared referral,
/// the connected Microsoft referral's payload. Mapping output is deterministic (stable key
/// order), so equal hashes mean nothing changed.
///
/// Works on any document the validators read: the mapping's own payload tree hashes the same
/// as the `Value` it becomes (both are hashed as their compact JSON).
pub fn payload_hash<J: Json>(referral: &J, connected: Option<&J>) -> String {
    let mut text = Vec::with_capacity(2048);
    write_json(referral, &mut text);
    if let Some(connected) = connected {
        text.push(b'\n');
        write_json(connected, &mut text);
    }
    hex::encode(Sha256::digest(&text))
}

impl MappedRecord {
    /// The [`payload_hash`] of this record's referral and connected referral.
    pub fn payload_hash(&self) -> String {
        payload_hash(&self.referral, self.connected.as_ref())
    }
}
