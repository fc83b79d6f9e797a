//! Referrals Microsoft shares with the partner, pulled: with `--inbound` they go to their own
//! file (customer, contact, days left to answer), the partner's own deals stay in `--output`;
//! the partner's accept and an expiry on the sandbox clock come back as changes; without
//! `--inbound` they are rows of the one file.

use reqwest::Method;
use serde_json::{Value, json};

use super::pulls::{csv_rows, pull, uploaded};
use crate::admin::{Workspace, expect_code, stderr};
use crate::common::api::Api;
use crate::common::sandbox::{TestResult, http_client, referral_with_external_id, status_and_json};

/// Requests as Microsoft (`X-Sandbox-Actor: microsoft`), as the partner, and to the sandbox
/// clock.
pub struct Microsoft {
    api: Api,
    client: reqwest::Client,
    base_url: String,
}

impl Microsoft {
    pub fn new(ws: &Workspace) -> TestResult<Microsoft> {
        Ok(Microsoft {
            api: Api::new(&ws.sandbox.base_url)?,
            client: http_client(std::time::Duration::from_secs(10))?,
            base_url: ws.sandbox.base_url.clone(),
        })
    }

    pub fn send(&self, method: Method, path: &str, body: &Value, actor: bool) -> TestResult<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth("anything")
            .json(body);
        if actor {
            request = request.header("X-Sandbox-Actor", "microsoft");
        }
        self.api.block_on(async {
            let (status, json) = status_and_json(request.send().await?).await?;
            match (200..300).contains(&status) {
                true => Ok(json),
                false => Err(format!("{path} answered {status}: {json}").into()),
            }
        })
    }

    /// A referral Microsoft shares with the partner; its id.
    fn share(&self, name: &str) -> TestResult<String> {
        let mut body = referral_with_external_id("MS-LEAD")?;
        body["name"] = json!(name);
        let created = self.send(Method::POST, "/v1.0/engagements/referrals", &body, true)?;
        assert_eq!(created["direction"], "Incoming", "{created}");
        created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no id: {created}").into())
    }

    /// Move the sandbox clock.
    fn advance_days(&self, days: u32) -> TestResult {
        self.send(
            Method::POST,
            "/sandbox/advance",
            &json!({ "days": days }),
            false,
        )?;
        Ok(())
    }
}

#[test]
fn inbound_referrals_get_their_own_file_and_their_changes_come_back() -> TestResult {
    let ws = uploaded()?;
    let microsoft = Microsoft::new(&ws)?;
    let answered = microsoft.share("Lead to accept")?;
    let ignored = microsoft.share("Lead left unanswered")?;
    let split = ["--inbound", "inbound.csv"];

    let output = pull(&ws, "out.csv", &split)?;
    expect_code(&output, 0)?;
    assert!(
        stderr(&output).contains("5 changed: 3 ours, 2 inbound"),
        "{}",
        stderr(&output)
    );
    assert_eq!(csv_rows(&ws, "out.csv")?.len(), 3);
    let inbound = csv_rows(&ws, "inbound.csv")?;
    assert_eq!(inbound.len(), 2, "{inbound:?}");
    for id in [&answered, &ignored] {
        let row = &inbound[id];
        assert_eq!(row["direction"], "Incoming");
        assert_eq!(
            (row["status"].as_str(), row["substatus"].as_str()),
            ("New", "Pending")
        );
        assert_eq!(row["changed"], "new");
        assert!(["13", "14"].contains(&row["daysLeft"].as_str()), "{row:?}");
        assert!(!row["customerName"].is_empty(), "{row:?}");
        assert!(!row["expirationDateTime"].is_empty(), "{row:?}");
    }

    // The partner accepts one; the other expires on the sandbox clock.
    ws.set_status(&answered, "Active", "Accepted")?;
    microsoft.advance_days(15)?;
    expect_code(&pull(&ws, "out.csv", &split)?, 0)?;
    assert!(csv_rows(&ws, "out.csv")?.is_empty());
    let inbound = csv_rows(&ws, "inbound.csv")?;
    assert_eq!(inbound.len(), 2, "{inbound:?}");
    assert_eq!(inbound[&answered]["status"], "Active");
    assert!(
        inbound[&answered]["changed"].contains("status"),
        "{inbound:?}"
    );
    assert_eq!(inbound[&ignored]["substatus"], "Expired");
    assert_eq!(
        inbound[&ignored]["daysLeft"], "",
        "an expired referral has no days left"
    );

    // Without --inbound, a new shared referral is a row of the one file.
    let third = microsoft.share("Lead in the main file")?;
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    let rows = csv_rows(&ws, "out.csv")?;
    assert_eq!(rows.keys().collect::<Vec<_>>(), [&third]);
    assert_eq!(rows[&third]["direction"], "Incoming");
    Ok(())
}
