//! What to do with one mapped record, decided from what the ledger knows about it and nothing
//! else: create, finish a shared referral's second step, update, or leave it alone. Pure, so
//! every case is tested without a network.

use serde_json::Value;

use crate::ledger::{LedgerRecord, State, Step};
use crate::mapping::MappedRecord;

/// The work for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Nothing changed since the last sync: no request.
    Unchanged,
    /// Create the referral (and, for a shared one, the connected referral). `lookup_first`:
    /// an earlier attempt may have been applied, so look the record up before sending.
    Create {
        lookup_first: bool,
        request_id: Option<String>,
    },
    /// The referral exists; create the missing connected referral for Microsoft, then bring
    /// the referral up to date if its payload changed.
    Connected {
        referral_id: String,
        engagement_id: Option<String>,
        lookup_first: bool,
    },
    /// Bring the referral up to date with a JSON Patch. `base` is the payload last synced,
    /// when the ledger has it; otherwise the diff is taken against the API's copy.
    Update {
        referral_id: String,
        etag: Option<String>,
        base: Option<Value>,
        /// For a shared referral: the connected referral, and the hash last synced, which
        /// tell whether the connected referral's fields changed too.
        connected_id: Option<String>,
        stored_hash: Option<String>,
    },
}

/// Decide what to do with `record`, given its ledger entry (`None`: never seen).
pub fn plan(entry: Option<&LedgerRecord>, record: &MappedRecord, hash: &str) -> Plan {
    let Some(entry) = entry else {
        return Plan::Create {
            lookup_first: false,
            request_id: None,
        };
    };
    let Some(referral_id) = entry.referral_id.clone() else {
        // Never created, or its creation is unsure: look first unless nothing was ever sent.
        return Plan::Create {
            lookup_first: entry.attempts > 0 || entry.state == State::InFlight,
            request_id: entry
                .request_id
                .clone()
                .filter(|_| entry.step == Some(Step::Create)),
        };
    };
    let connected_missing = record.connected.is_some() && entry.connected_referral_id.is_none();
    if connected_missing {
        return Plan::Connected {
            referral_id,
            engagement_id: entry.engagement_id.clone(),
            // A step past the creation was under way: the connected referral may exist.
            lookup_first: matches!(entry.step, Some(Step::Connected | Step::Update)),
        };
    }
    let unsure_update = matches!(entry.state, State::InFlight | State::Failed);
    if !unsure_update && entry.payload_hash.as_deref() == Some(hash) {
        return Plan::Unchanged;
    }
    Plan::Update {
        referral_id,
        etag: entry.etag.clone(),
        base: if unsure_update {
            None
        } else {
            stored_payload(entry)
        },
        connected_id: entry.connected_referral_id.clone(),
        stored_hash: entry.payload_hash.clone(),
    }
}

/// The payload last synced, when the ledger has one that parses.
fn stored_payload(entry: &LedgerRecord) -> Option<Value> {
    entry.payload_hash.as_deref().filter(|h| !h.is_empty())?;
    let text = entry.payload.as_deref()?;
    serde_json::from_str(text).ok()
}
