//! What the client must not send: changes Partner Center does not take after creation, and
//! any change to a referral that reached a terminal state there.
//!
//! A patch is split by the contract's patchable paths (`referral::contract::PATCHABLE`, the
//! table the sandbox enforces too): what is patchable is sent, every other change becomes a
//! `not_updatable` notice naming the field and the reason, counted in the run summary and
//! written to the ledger, and the run goes on. The record is then recorded as synced with the
//! export's payload, so the same difference is not reported again by the next run; a new
//! change of that field is. A referral whose status in Partner Center is terminal is left
//! alone and counted as `closed_in_partner_center`.

use std::sync::atomic::Ordering;

use serde_json::Value;

use super::summary::{Counters, Notice, NoticeKind, bump};
use crate::api::client::PatchOp;
use crate::referral::contract::{NOT_PATCHABLE_REASON, is_terminal, patchable};

/// The reason a closed referral is left alone.
pub const CLOSED_REASON: &str =
    "closed in Partner Center: no change is permitted after a terminal state";

/// `ops` split into what Partner Center takes and the pointers of what it does not.
pub fn split(ops: Vec<PatchOp>) -> (Vec<PatchOp>, Vec<String>) {
    let mut sent = Vec::new();
    let mut refused = Vec::new();
    for op in ops {
        if patchable(&op.path).is_some() {
            sent.push(op);
        } else {
            refused.push(op.path);
        }
    }
    (sent, refused)
}

/// Whether the API's copy `api` of a referral is in a terminal state.
pub fn is_closed(api: &Value) -> bool {
    is_terminal(api.get("status").and_then(Value::as_str))
}

/// `api`'s status as `Closed/Won`.
pub fn status_of(api: &Value) -> String {
    let part = |key: &str| api.get(key).and_then(Value::as_str).unwrap_or("None");
    format!("{}/{}", part("status"), part("substatus"))
}

/// Count and keep one notice per refused field of `external_id` (`connected` for the
/// connected referral's fields), and log each.
pub fn report_not_updatable(
    counters: &Counters,
    external_id: &str,
    fields: &[String],
    connected: bool,
) -> Vec<Notice> {
    let notices: Vec<Notice> = fields
        .iter()
        .map(|field| Notice {
            kind: NoticeKind::NotUpdatable,
            external_id: external_id.to_owned(),
            field: if connected {
                format!("connected:{field}")
            } else {
                field.clone()
            },
            reason: NOT_PATCHABLE_REASON.to_owned(),
        })
        .collect();
    for notice in &notices {
        tracing::warn!(external_id, field = %notice.field, "not updatable: {}", notice.reason);
        counters.not_updatable.fetch_add(1, Ordering::Relaxed);
    }
    keep(counters, &notices);
    notices
}

/// Count `external_id` as closed in Partner Center (its status there, e.g. `Closed/Won`).
pub fn report_closed(counters: &Counters, external_id: &str, status: &str) -> Notice {
    tracing::info!(external_id, status, "left alone: {CLOSED_REASON}");
    bump(&counters.closed_in_partner_center);
    let notice = Notice {
        kind: NoticeKind::ClosedInPartnerCenter,
        external_id: external_id.to_owned(),
        field: "status".to_owned(),
        reason: format!("{status}: {CLOSED_REASON}"),
    };
    keep(counters, std::slice::from_ref(&notice));
    notice
}

fn keep(counters: &Counters, notices: &[Notice]) {
    if let Ok(mut kept) = counters.notices.lock() {
        kept.extend_from_slice(notices);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_patchable_paths_are_sent() {
        let ops = vec![
            PatchOp::replace("/name", json!("B")),
            PatchOp::replace("/details/dealValue", json!(12)),
            PatchOp::add("/customerProfile/address/city", json!("Oslo")),
            PatchOp::replace("/team", json!([])),
        ];
        let (sent, refused) = split(ops);
        let sent: Vec<_> = sent.iter().map(|op| op.path.as_str()).collect();
        assert_eq!(sent, ["/details/dealValue", "/team"]);
        assert_eq!(refused, ["/name", "/customerProfile/address/city"]);
    }

    #[test]
    fn closed_is_terminal_whatever_the_substatus() {
        assert!(is_closed(&json!({"status": "Closed", "substatus": "Won"})));
        assert!(is_closed(&json!({"status": "Closed"})));
        assert!(!is_closed(&json!({"status": "Active"})));
        assert_eq!(
            status_of(&json!({"status": "Closed", "substatus": "Lost"})),
            "Closed/Lost"
        );
    }
}
