//! The store's indexes: the referrals of each engagement, creation order, the order of
//! `createdDateTime` and `updatedDateTime`, and the incoming referrals waiting to expire.
//!
//! A sandbox seeded with 100,000 referrals must list a page, find an engagement's referrals
//! and expire what is due without scanning or sorting every referral per request; each index
//! is updated as a referral arrives, changes or leaves.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use serde_json::Value;

/// A field the list can be ordered by through an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordered {
    Created,
    Updated,
}

impl Ordered {
    pub fn field(self) -> &'static str {
        match self {
            Ordered::Created => "createdDateTime",
            Ordered::Updated => "updatedDateTime",
        }
    }
}

/// A range of one ordered field, as text in the API's timestamp format.
pub type Range = (Bound<String>, Bound<String>);

#[derive(Debug, Default)]
pub struct Index {
    engagements: HashMap<String, Vec<String>>,
    by_seq: BTreeMap<u64, String>,
    by_created: BTreeSet<(String, u64)>,
    by_updated: BTreeSet<(String, u64)>,
    /// `(expirationDateTime, id)` of every Incoming New/Pending referral.
    expiring: BTreeSet<(String, String)>,
}

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Whether `body` is an incoming referral still waiting for an answer, and when it expires.
fn expiry(body: &Value) -> Option<&str> {
    let waiting = text(body, "direction") == "Incoming"
        && text(body, "status") == "New"
        && text(body, "substatus") == "Pending";
    body.get("expirationDateTime")
        .and_then(Value::as_str)
        .filter(|_| waiting)
}

impl Index {
    /// Index a referral that arrives (or the new body of one that changed).
    pub fn add(&mut self, id: &str, seq: u64, body: &Value) {
        if let Some(engagement) = body.get("engagementId").and_then(Value::as_str) {
            let members = self.engagements.entry(engagement.to_owned()).or_default();
            if !members.iter().any(|m| m == id) {
                members.push(id.to_owned());
            }
        }
        self.by_seq.insert(seq, id.to_owned());
        self.by_created
            .insert((text(body, "createdDateTime").to_owned(), seq));
        self.by_updated
            .insert((text(body, "updatedDateTime").to_owned(), seq));
        if let Some(at) = expiry(body) {
            self.expiring.insert((at.to_owned(), id.to_owned()));
        }
    }

    /// Forget a referral that leaves (or the old body of one that changes).
    pub fn remove(&mut self, id: &str, seq: u64, body: &Value) {
        if let Some(engagement) = body.get("engagementId").and_then(Value::as_str)
            && let Some(members) = self.engagements.get_mut(engagement)
        {
            members.retain(|m| m != id);
            if members.is_empty() {
                self.engagements.remove(engagement);
            }
        }
        self.by_seq.remove(&seq);
        self.by_created
            .remove(&(text(body, "createdDateTime").to_owned(), seq));
        self.by_updated
            .remove(&(text(body, "updatedDateTime").to_owned(), seq));
        if let Some(at) = expiry(body) {
            self.expiring.remove(&(at.to_owned(), id.to_owned()));
        }
    }

    pub fn clear(&mut self) {
        *self = Index::default();
    }

    /// The ids of an engagement's referrals, in the order they arrived.
    pub fn engagement(&self, engagement_id: &str) -> &[String] {
        self.engagements
            .get(engagement_id)
            .map_or(&[], Vec::as_slice)
    }

    /// The ids of the incoming referrals whose expiration is at or before `now`.
    pub fn due(&self, now: &str) -> Vec<String> {
        self.expiring
            .iter()
            .take_while(|(at, _)| at.as_str() <= now)
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// Sequence numbers in creation order, after `after` (exclusive) when given.
    pub fn by_seq(
        &self,
        descending: bool,
        after: Option<u64>,
    ) -> Box<dyn Iterator<Item = u64> + '_> {
        let keys = self.by_seq.keys().copied();
        match (descending, after) {
            (false, None) => Box::new(keys),
            (true, None) => Box::new(keys.rev()),
            (false, Some(seq)) => Box::new(
                self.by_seq
                    .range((Bound::Excluded(seq), Bound::Unbounded))
                    .map(|(s, _)| *s),
            ),
            (true, Some(seq)) => Box::new(self.by_seq.range(..seq).rev().map(|(s, _)| *s)),
        }
    }

    /// Sequence numbers ordered by `field` (ties by creation order), within `range`, after
    /// the key `after` (exclusive) when given.
    pub fn by_field(
        &self,
        field: Ordered,
        descending: bool,
        range: Range,
        after: Option<(String, u64)>,
    ) -> Box<dyn Iterator<Item = u64> + '_> {
        let set = match field {
            Ordered::Created => &self.by_created,
            Ordered::Updated => &self.by_updated,
        };
        let mut lower = match range.0 {
            Bound::Included(v) | Bound::Excluded(v) => Bound::Included((v, 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut upper = match range.1 {
            Bound::Included(v) | Bound::Excluded(v) => Bound::Included((v, u64::MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        if let Some(key) = after {
            if descending {
                upper = tighter_upper(upper, key);
            } else {
                lower = tighter_lower(lower, key);
            }
        }
        if empty(&lower, &upper) {
            return Box::new(std::iter::empty());
        }
        let range = set.range((lower, upper)).map(|(_, seq)| *seq);
        if descending {
            Box::new(range.rev())
        } else {
            Box::new(range)
        }
    }

    /// The id of the referral with this sequence number.
    pub fn id_at(&self, seq: u64) -> Option<&str> {
        self.by_seq.get(&seq).map(String::as_str)
    }
}

type Key = (String, u64);

/// The later of a lower bound and "strictly after `key`".
fn tighter_lower(bound: Bound<Key>, key: Key) -> Bound<Key> {
    match bound {
        Bound::Included(b) if b > key => Bound::Included(b),
        Bound::Excluded(b) if b >= key => Bound::Excluded(b),
        _ => Bound::Excluded(key),
    }
}

/// The earlier of an upper bound and "strictly before `key`".
fn tighter_upper(bound: Bound<Key>, key: Key) -> Bound<Key> {
    match bound {
        Bound::Included(b) if b < key => Bound::Included(b),
        Bound::Excluded(b) if b <= key => Bound::Excluded(b),
        _ => Bound::Excluded(key),
    }
}

/// Whether the bounds leave nothing (`BTreeSet::range` panics on such bounds).
fn empty(lower: &Bound<Key>, upper: &Bound<Key>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => {
            l >= u
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(id: &str, updated: &str) -> Value {
        json!({"id": id, "engagementId": "E", "updatedDateTime": updated,
            "createdDateTime": "2020", "direction": "Incoming", "status": "New",
            "substatus": "Pending", "expirationDateTime": updated})
    }

    #[test]
    fn ranges_and_cursors_bound_the_order_and_never_panic() {
        let mut index = Index::default();
        for (seq, at) in [(1, "b"), (2, "a"), (3, "c"), (4, "b")] {
            index.add(&format!("r{seq}"), seq, &body(&format!("r{seq}"), at));
        }
        let list = |desc, range: Range, after| -> Vec<u64> {
            index
                .by_field(Ordered::Updated, desc, range, after)
                .collect()
        };
        let all = (Bound::Unbounded, Bound::Unbounded);
        assert_eq!(list(false, all.clone(), None), [2, 1, 4, 3]);
        assert_eq!(list(true, all.clone(), None), [3, 4, 1, 2]);
        assert_eq!(list(false, all.clone(), Some(("b".into(), 1))), [4, 3]);
        assert_eq!(list(true, all, Some(("b".into(), 4))), [1, 2]);
        let b = (Bound::Included("b".into()), Bound::Included("b".into()));
        assert_eq!(list(false, b.clone(), None), [1, 4]);
        assert_eq!(
            list(false, b.clone(), Some(("c".into(), 0))),
            Vec::<u64>::new()
        );
        assert_eq!(list(true, b, Some(("a".into(), 9))), Vec::<u64>::new());
        assert_eq!(index.due("b"), ["r2", "r1", "r4"]);
        assert_eq!(index.engagement("E").len(), 4);
        index.remove("r1", 1, &body("r1", "b"));
        assert_eq!(index.due("b"), ["r2", "r4"]);
        assert_eq!(index.by_seq(true, Some(3)).collect::<Vec<_>>(), [2]);
        assert_eq!(index.engagement("E"), ["r2", "r3", "r4"]);
    }
}
