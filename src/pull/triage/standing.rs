//! What a referral's status means for a decision, and what a decision sends: the pure part
//! of triage, kept apart from the requests and ledger writes of [`apply`](super::apply).
//!
//! A referral awaits a response while it is Incoming and New (Pending or Received). Accept
//! sets Active/Accepted; decline sets Closed/Declined with the reason as `statusReason` (spec
//! §7). Closed/Expired is reported as expired; any other state that is not the decision's is
//! reported as closed (answered otherwise, or closed by Microsoft).

use serde_json::{Value, json};

use super::apply::Item;
use crate::api::{ApiReferral, PatchOp};
use crate::ledger::Decision;

/// Where a referral stands for a decision.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// New (Pending or Received): it awaits a response.
    Awaiting,
    /// It already holds the decision.
    Decided,
    Expired,
    /// Closed otherwise, or answered the other way.
    Closed,
    /// Not an inbound referral: the direction it has.
    NotInbound(String),
}

/// The status and substatus a decision sets.
pub fn target(decision: Decision) -> (&'static str, &'static str) {
    match decision {
        Decision::Accept => ("Active", "Accepted"),
        Decision::Decline => ("Closed", "Declined"),
    }
}

pub fn standing(referral: &ApiReferral, decision: Decision) -> Standing {
    let direction = referral.json().get("direction").and_then(Value::as_str);
    if direction != Some("Incoming") {
        return Standing::NotInbound(direction.unwrap_or("none").to_owned());
    }
    let now = (referral.status(), referral.substatus());
    let (status, substatus) = target(decision);
    match now {
        (Some(s), Some(sub)) if s == status && sub == substatus => Standing::Decided,
        (Some("New"), _) => Standing::Awaiting,
        (Some("Closed"), Some("Expired")) => Standing::Expired,
        _ => Standing::Closed,
    }
}

/// The JSON Patch of a decision.
pub fn patch_of(item: &Item) -> Vec<PatchOp> {
    let (status, substatus) = target(item.decision);
    let mut ops = vec![
        PatchOp::replace("/status", json!(status)),
        PatchOp::replace("/substatus", json!(substatus)),
    ];
    if let (Decision::Decline, Some(reason)) = (item.decision, &item.reason) {
        ops.push(PatchOp::replace("/statusReason", json!(reason)));
    }
    ops
}

/// "Active/Accepted", or what is known of it.
pub fn status_text(referral: &ApiReferral) -> String {
    format!(
        "{}/{}",
        referral.status().unwrap_or("?"),
        referral.substatus().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Decision;

    fn referral(direction: &str, status: &str, substatus: &str) -> ApiReferral {
        let json =
            json!({"id": "r", "direction": direction, "status": status, "substatus": substatus});
        ApiReferral::from_json(json).unwrap()
    }

    #[test]
    fn where_a_referral_stands_for_each_decision() {
        use Decision::{Accept, Decline};
        let cases = [
            (("Incoming", "New", "Pending"), Accept, Standing::Awaiting),
            (("Incoming", "New", "Received"), Decline, Standing::Awaiting),
            (
                ("Incoming", "Active", "Accepted"),
                Accept,
                Standing::Decided,
            ),
            (
                ("Incoming", "Active", "Accepted"),
                Decline,
                Standing::Closed,
            ),
            (
                ("Incoming", "Closed", "Declined"),
                Decline,
                Standing::Decided,
            ),
            (("Incoming", "Closed", "Expired"), Accept, Standing::Expired),
            (("Incoming", "Closed", "Lost"), Accept, Standing::Closed),
            (
                ("Outgoing", "New", "Pending"),
                Accept,
                Standing::NotInbound("Outgoing".into()),
            ),
        ];
        for ((direction, status, substatus), decision, want) in cases {
            let got = standing(&referral(direction, status, substatus), decision);
            assert_eq!(got, want, "{direction} {status}/{substatus} {decision:?}");
        }
    }

    #[test]
    fn a_decline_carries_its_reason_and_an_accept_none() {
        let mut item = Item {
            referral_id: "r".into(),
            decision: Decision::Decline,
            reason: Some("No capacity".into()),
            source: None,
        };
        let paths = |ops: Vec<PatchOp>| {
            ops.into_iter()
                .map(|op| (op.path, op.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(patch_of(&item)),
            [
                ("/status".to_owned(), json!("Closed")),
                ("/substatus".to_owned(), json!("Declined")),
                ("/statusReason".to_owned(), json!("No capacity")),
            ]
        );
        item.decision = Decision::Accept;
        assert_eq!(paths(patch_of(&item)).len(), 2);
    }
}
