//! The sandbox's referrals, their creation order, and the idempotency keys of creates.
//!
//! One `Store` sits behind one mutex; handlers take the lock, decide and change in one short
//! critical section (no `.await` inside), so sixteen concurrent uploads cannot interleave a
//! lookup and an insert and create a duplicate. With `--state` every change is written through
//! to SQLite before the lock is released. The sandbox clock lives here too: the stamps it hands
//! out are written in the same critical sections as the changes they date.

use std::collections::{HashMap, HashSet};

use jiff::SignedDuration;
use serde_json::Value;

use super::index::Index;
use super::persist::StateFile;
use super::time::Clock;
use crate::Error;

/// One stored referral: its body as the API returns it (without `links`, which depend on the
/// address a request came to) and its place in creation order.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: u64,
    pub body: Value,
}

impl Record {
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
}

/// All referrals of the sandbox, and its clock.
pub struct Store {
    records: HashMap<String, Record>,
    request_ids: HashMap<String, String>,
    /// Engagements, orders and expirations (see `index.rs`): a scan of every referral made
    /// large sandboxes slow down as they filled.
    index: Index,
    next_seq: u64,
    pub clock: Clock,
    file: Option<StateFile>,
}

impl Store {
    pub fn in_memory() -> Self {
        Store {
            records: HashMap::new(),
            request_ids: HashMap::new(),
            index: Index::default(),
            next_seq: 1,
            clock: Clock::new(0),
            file: None,
        }
    }

    /// A store backed by a state file, filled with what the file holds.
    pub fn open(path: &std::path::Path) -> Result<Self, Error> {
        let (file, loaded) = StateFile::open(path)?;
        let mut store = Store::in_memory();
        store.clock = Clock::new(loaded.clock_offset);
        for (id, seq, body) in loaded.referrals {
            store.next_seq = store.next_seq.max(seq.saturating_add(1));
            store
                .clock
                .observe(body.get("updatedDateTime").and_then(Value::as_str));
            store.index.add(&id, seq, &body);
            store.records.insert(id, Record { seq, body });
        }
        store.request_ids.extend(loaded.request_ids);
        store.file = Some(file);
        Ok(store)
    }

    pub fn get(&self, id: &str) -> Option<&Record> {
        self.records.get(id)
    }

    /// How many referrals there are.
    pub fn count(&self) -> usize {
        self.records.len()
    }

    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.records.values()
    }

    /// The indexes, for ordered listings.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The referral with this sequence number.
    pub fn at_seq(&self, seq: u64) -> Option<&Record> {
        self.index.id_at(seq).and_then(|id| self.records.get(id))
    }

    /// Whether any referral belongs to this engagement.
    pub fn has_engagement(&self, engagement_id: &str) -> bool {
        !self.index.engagement(engagement_id).is_empty()
    }

    /// The ids of an engagement's referrals.
    pub fn engagement(&self, engagement_id: &str) -> Vec<String> {
        self.index.engagement(engagement_id).to_vec()
    }

    /// The referral an earlier create with this `MS-RequestId` made, if it still exists.
    pub fn by_request_id(&self, request_id: &str) -> Option<&Record> {
        self.request_ids
            .get(request_id)
            .and_then(|id| self.records.get(id))
    }

    /// The next sequence number a referral will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Move the sandbox clock forward (and remember how far, with `--state`).
    pub fn advance(&mut self, by: SignedDuration) -> rusqlite::Result<()> {
        let mut clock = self.clock.clone();
        clock.advance(by);
        if let Some(file) = &self.file {
            file.save_clock(clock.offset_seconds())?;
        }
        self.clock = clock;
        Ok(())
    }

    /// Add a new referral (its body carries its `id`).
    pub fn insert(
        &mut self,
        id: &str,
        body: Value,
        request_id: Option<&str>,
    ) -> rusqlite::Result<&Record> {
        let seq = self.next_seq;
        if let Some(file) = &self.file {
            file.upsert(id, seq, &body)?;
            if let Some(request_id) = request_id {
                file.remember(request_id, id)?;
            }
        }
        if let Some(request_id) = request_id {
            self.request_ids
                .insert(request_id.to_string(), id.to_string());
        }
        Ok(self.put(id, seq, body))
    }

    /// Add many new referrals at once (one transaction with `--state`); each body carries
    /// its `id`.
    pub fn insert_many(&mut self, bodies: Vec<Value>) -> rusqlite::Result<usize> {
        let first = self.next_seq;
        let with_ids: Vec<(String, u64, Value)> = bodies
            .into_iter()
            .zip(first..)
            .map(|(body, seq)| {
                let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
                (id.to_owned(), seq, body)
            })
            .collect();
        if let Some(file) = &self.file {
            file.upsert_many(&with_ids)?;
        }
        let count = with_ids.len();
        for (id, seq, body) in with_ids {
            self.put(&id, seq, body);
        }
        Ok(count)
    }

    /// Place a body at `seq` in memory and the indexes.
    fn put(&mut self, id: &str, seq: u64, body: Value) -> &Record {
        self.next_seq = self.next_seq.max(seq.saturating_add(1));
        if let Some(old) = self.records.get(id) {
            self.index.remove(id, old.seq, &old.body);
        }
        self.index.add(id, seq, &body);
        let record = self
            .records
            .entry(id.to_string())
            .insert_entry(Record { seq, body });
        record.into_mut()
    }

    /// Replace the body of an existing referral; `None` when there is no such referral.
    pub fn replace(&mut self, id: &str, body: Value) -> rusqlite::Result<Option<&Record>> {
        let Some(record) = self.records.get_mut(id) else {
            return Ok(None);
        };
        if let Some(file) = &self.file {
            file.upsert(id, record.seq, &body)?;
        }
        self.index.remove(id, record.seq, &record.body);
        self.index.add(id, record.seq, &body);
        record.body = body;
        Ok(Some(record))
    }

    /// Delete a referral; whether it existed.
    pub fn remove(&mut self, id: &str) -> rusqlite::Result<bool> {
        if let Some(file) = &self.file {
            file.remove(id)?;
        }
        self.request_ids.retain(|_, referral| referral != id);
        match self.records.remove(id) {
            Some(old) => {
                self.index.remove(id, old.seq, &old.body);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Delete every referral (the clock keeps its time).
    pub fn clear(&mut self) -> rusqlite::Result<()> {
        if let Some(file) = &self.file {
            file.clear()?;
        }
        self.records.clear();
        self.request_ids.clear();
        self.index.clear();
        Ok(())
    }

    /// How many `externalReferenceId` values are held by more than one outgoing referral.
    /// Connected referrals and referrals shared with the partner (Incoming) do not count.
    pub fn duplicate_external_ids(&self) -> usize {
        let mut seen = HashSet::new();
        let mut duplicated = HashSet::new();
        for record in self.records.values() {
            if record.str_field("direction") != Some("Outgoing") {
                continue;
            }
            if let Some(ext) = record.str_field("externalReferenceId")
                && !ext.is_empty()
                && !seen.insert(ext)
            {
                duplicated.insert(ext);
            }
        }
        duplicated.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(id: &str, ext: &str, direction: &str) -> Value {
        json!({"id": id, "externalReferenceId": ext, "direction": direction})
    }

    #[test]
    fn duplicates_count_outgoing_referrals_only() -> rusqlite::Result<()> {
        let mut store = Store::in_memory();
        store.insert("1", body("1", "A", "Outgoing"), None)?;
        store.insert("2", body("2", "A", "Incoming"), None)?;
        store.insert("3", body("3", "B", "Outgoing"), None)?;
        assert_eq!(store.duplicate_external_ids(), 0);
        store.insert("4", body("4", "B", "Outgoing"), None)?;
        store.insert("5", body("5", "B", "Outgoing"), None)?;
        assert_eq!(store.duplicate_external_ids(), 1);
        Ok(())
    }

    #[test]
    fn request_ids_point_at_live_referrals_only() -> rusqlite::Result<()> {
        let mut store = Store::in_memory();
        store.insert("1", body("1", "A", "Outgoing"), Some("req"))?;
        assert_eq!(store.by_request_id("req").map(|r| r.seq), Some(1));
        assert!(store.remove("1")?);
        assert!(store.by_request_id("req").is_none());
        assert!(!store.remove("1")?);
        Ok(())
    }

    #[test]
    fn engagements_are_known_while_one_of_their_referrals_lives() -> rusqlite::Result<()> {
        let mut store = Store::in_memory();
        assert!(!store.has_engagement("E"));
        store.insert("1", json!({"id": "1", "engagementId": "E"}), None)?;
        store.insert("2", json!({"id": "2", "engagementId": "E"}), None)?;
        assert!(store.has_engagement("E"));
        assert!(store.remove("1")?);
        assert!(store.has_engagement("E"));
        assert!(store.remove("2")?);
        assert!(!store.has_engagement("E"));
        store.insert("3", json!({"id": "3", "engagementId": "F"}), None)?;
        store.clear()?;
        assert!(!store.has_engagement("F"));
        Ok(())
    }
}
