//! Microsoft's seller acting on a co-sell engagement over real HTTP (issue 12, item 6):
//! accept, set Microsoft's CRM id, close Won or Lost, and what the seller may not do.

use reqwest::Method;
use serde_json::{Value, json};

use super::microsoft::{Call, get, patch_url, sandbox, shared_by_microsoft, status_patch};
use crate::common::sandbox::{TestResult, TestSandbox, referral_with_external_id};

/// A co-sell engagement: the partner's referral and its connected one for Microsoft.
async fn co_sell(sandbox: &TestSandbox, external_id: &str) -> TestResult<(Value, Value)> {
    let ours = sandbox
        .create_ok(&referral_with_external_id(external_id)?)
        .await?;
    let mut connected = referral_with_external_id(external_id)?;
    connected["engagementId"] = ours["engagementId"].clone();
    connected["target"] = json!([{"type": "BusinessProfileLocation", "id": "msft"}]);
    let microsoft = sandbox.create_ok(&connected).await?;
    assert_eq!(microsoft["organizationId"], "msft");
    Ok((ours, microsoft))
}

/// Microsoft's seller patches `referral`; status and body.
async fn seller(sandbox: &TestSandbox, referral: &Value, ops: Value) -> TestResult<(u16, Value)> {
    Call::new(sandbox, Method::PATCH, patch_url(sandbox, referral))
        .actor("microsoft")
        .send(Some(&ops))
        .await
}

#[tokio::test]
async fn issue_12_microsofts_seller_accepts_sets_the_msx_id_and_closes_the_engagement() -> TestResult
{
    let sandbox = sandbox().await?;
    let (ours, microsoft) = co_sell(&sandbox, "CO-1").await?;
    // Accepting through the partner's id acts on the engagement: Microsoft's referral moves.
    let (status, body) = seller(&sandbox, &ours, status_patch("Active", "Accepted", None)).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["eTag"], ours["eTag"],
        "the partner's referral did not change"
    );
    let accepted = get(&sandbox, &microsoft["id"]).await?;
    assert_eq!(
        (&accepted["status"], &accepted["substatus"]),
        (&json!("Active"), &json!("Accepted"))
    );
    assert_ne!(accepted["eTag"], microsoft["eTag"]);
    assert!(accepted["updatedDateTime"].as_str() > microsoft["updatedDateTime"].as_str());

    let msx = json!([{"op": "add", "path": "/trackingInfo/microsoftMsxId", "value": "7-XYZ123"}]);
    let (status, _) = seller(&sandbox, &microsoft, msx).await?;
    assert_eq!(status, 200);
    let (ours_now, microsoft_now) = (
        get(&sandbox, &ours["id"]).await?,
        get(&sandbox, &microsoft["id"]).await?,
    );
    for (before, after) in [(&ours, &ours_now), (&accepted, &microsoft_now)] {
        assert_eq!(after["trackingInfo"]["microsoftMsxId"], "7-XYZ123");
        assert_ne!(after["eTag"], before["eTag"]);
    }

    let won = status_patch("Closed", "Won", Some("Customer signed"));
    let (status, _) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &microsoft))
        .actor("microsoft")
        .if_match(&json!("\"stale\""))
        .send(Some(&won))
        .await?;
    assert_eq!(status, 412);
    let (status, _) = seller(&sandbox, &microsoft, won.clone()).await?;
    assert_eq!(status, 200);
    for id in [&ours["id"], &microsoft["id"]] {
        let closed = get(&sandbox, id).await?;
        assert_eq!(
            (&closed["status"], &closed["substatus"]),
            (&json!("Closed"), &json!("Won"))
        );
        assert_eq!(closed["statusReason"], "Customer signed");
        assert_eq!(closed["closedDateTime"], closed["updatedDateTime"]);
    }
    let (status, body) = seller(&sandbox, &ours, status_patch("Closed", "Lost", None)).await?;
    assert_eq!(status, 409, "a closed engagement stays closed: {body}");
    Ok(())
}

#[tokio::test]
async fn issue_12_microsofts_seller_acts_on_co_sell_engagements_only() -> TestResult {
    let sandbox = sandbox().await?;
    let alone = sandbox
        .create_ok(&referral_with_external_id("SOLO")?)
        .await?;
    let shared = shared_by_microsoft(&sandbox, "IN-9").await?;
    for referral in [&alone, &shared] {
        let (status, body) =
            seller(&sandbox, referral, status_patch("Closed", "Won", None)).await?;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "accessDenied");
    }
    let (_, microsoft) = co_sell(&sandbox, "CO-2").await?;
    let declined = status_patch("Closed", "Declined", None);
    let notes = json!([{"op": "replace", "path": "/details/notes", "value": "x"}]);
    for ops in [declined, notes] {
        let (status, body) = seller(&sandbox, &microsoft, ops).await?;
        assert_eq!(status, 400, "{body}");
    }
    // The partner lost the deal on its own; Microsoft's close finishes the rest.
    let (ours, microsoft) = co_sell(&sandbox, "CO-3").await?;
    let lost = status_patch("Closed", "Lost", Some("Budget cut"));
    let (status, _) = Call::new(&sandbox, Method::PATCH, patch_url(&sandbox, &ours))
        .send(Some(&lost))
        .await?;
    assert_eq!(status, 200);
    let ours_closed = get(&sandbox, &ours["id"]).await?;
    let (status, _) = seller(&sandbox, &microsoft, lost).await?;
    assert_eq!(status, 200);
    assert_eq!(
        get(&sandbox, &ours["id"]).await?["eTag"],
        ours_closed["eTag"]
    );
    assert_eq!(get(&sandbox, &microsoft["id"]).await?["substatus"], "Lost");
    let (status, _) = seller(
        &sandbox,
        &microsoft,
        status_patch("Active", "Accepted", None),
    )
    .await?;
    assert_eq!(status, 409);
    Ok(())
}
