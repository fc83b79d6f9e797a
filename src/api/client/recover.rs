//! Finding a referral that a request may have created although its answer was lost. This is
//! how the uploader creates each referral exactly once against a server that does not promise
//! to deduplicate creates: before sending again, it asks whether the first send took effect.

use serde_json::Value;

use super::{ApiClient, ApiError, ApiReferral};

/// How to recognise the referral a lost create may have made.
#[derive(Debug, Clone, Copy)]
pub enum Recovery<'a> {
    /// Nothing identifies it: a lost create is simply sent again.
    None,
    /// The partner's own referral, by its `externalReferenceId`.
    ExternalId(&'a str),
    /// The connected referral for Microsoft, by the engagement it joined.
    Connected {
        engagement_id: &'a str,
        partner_referral_id: &'a str,
    },
}

impl ApiClient {
    /// The referral `recovery` describes, if the API holds it.
    pub(super) async fn recover(
        &self,
        recovery: &Recovery<'_>,
    ) -> Result<Option<ApiReferral>, ApiError> {
        let found = match *recovery {
            Recovery::None => None,
            Recovery::ExternalId(external_id) => self.find_partner_referral(external_id).await?,
            Recovery::Connected {
                engagement_id,
                partner_referral_id,
            } => {
                self.find_connected(engagement_id, partner_referral_id)
                    .await?
            }
        };
        if let Some(referral) = &found {
            tracing::info!(
                id = referral.id(),
                "a create whose answer was lost had been applied; using the referral found"
            );
        }
        Ok(found)
    }

    /// The partner's own referral carrying `external_id` (the oldest when there are several;
    /// a connected Microsoft referral of the same engagement is not it).
    pub async fn find_partner_referral(
        &self,
        external_id: &str,
    ) -> Result<Option<ApiReferral>, ApiError> {
        let mut found: Vec<ApiReferral> = self
            .find_by_external_id(external_id)
            .await?
            .into_iter()
            .filter(|r| !is_connected(r))
            .collect();
        if found.len() > 1 {
            tracing::warn!(
                external_id,
                count = found.len(),
                "several referrals carry this externalReferenceId; using the oldest"
            );
            found.sort_by(|a, b| created(a).cmp(created(b)));
        }
        Ok(found.into_iter().next())
    }

    /// The connected referral for Microsoft in `engagement_id`, other than the partner's own.
    pub async fn find_connected(
        &self,
        engagement_id: &str,
        partner_referral_id: &str,
    ) -> Result<Option<ApiReferral>, ApiError> {
        let filter = format!("engagementId eq '{}'", engagement_id.replace('\'', "''"));
        let all = self.list_all(Some(&filter), None).await?;
        Ok(all
            .into_iter()
            .find(|r| r.id() != partner_referral_id && is_connected(r)))
    }
}

/// Whether a referral is a connected one made for Microsoft (target
/// `BusinessProfileLocation`/`msft`).
pub fn is_connected(referral: &ApiReferral) -> bool {
    referral
        .json()
        .get("target")
        .and_then(Value::as_array)
        .is_some_and(|targets| {
            targets.iter().any(|t| {
                t.get("type").and_then(Value::as_str) == Some("BusinessProfileLocation")
                    && t.get("id").and_then(Value::as_str) == Some("msft")
            })
        })
}

fn created(referral: &ApiReferral) -> &str {
    referral
        .json()
        .get("createdDateTime")
        .and_then(Value::as_str)
        .unwrap_or("")
}
