//! The Partner Center Referral resource, as on the wire, and its validation.
//!
//! `model` has the serde types (exact wire names, unknown fields and enum values kept);
//! `validate_create`, `validate_update` and `validate_transition` check raw JSON the way the
//! API does and report every problem with its JSON path; `tables` maps the country and
//! currency names CRMs export to ISO codes and lists the enum values allowed at each path.
//!
//! Paths in [`FieldError`] are dotted field names with array indices, as in
//! `customerProfile.team[1].email`; `$` is the document itself.

mod aliases;
mod check;
mod conform;
pub mod contract;
mod countries;
mod currencies;
mod deal;
mod enums;
mod model;
pub mod sales_taxonomy;
mod tables;
mod taxonomy;
mod validate;

use std::fmt;

use serde_json::Value;

pub use check::{Json, JsonObject, View, same_name};
pub use conform::{check_contract, coerce_to_contract};
pub use contract::connected_patchable;
pub use deal::{
    AdditionalRequirements, Attribute, IotRequirements, ReferralDetails, ReferralRequirements,
    SolutionTag, Tag,
};
pub use enums::{
    AssistanceRequestCode, CustomerSize, Direction, ProfileType, ReferralQualification,
    ReferralStatus, ReferralSubstatus, ReferralType, SolutionType, TargetType,
};
pub use model::{
    Address, Consent, ContactPreference, CustomerProfile, CustomerProfileId, InviteContext,
    InvitedBy, Link, Links, Member, Referral, ReferralPage, ReferralTarget, TrackingInfo,
};
pub use tables::{
    allowed_values, country_code, currency_code, is_country_code, is_currency_code, normalize,
    solution_categories,
};
pub use validate::{next_statuses, substatuses_of};

/// One problem in a payload, located by its JSON path (`customerProfile.address.country`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem of a create payload, all of them, not just the first.
///
/// Works on the raw JSON, so a wrong type is reported at its path like any other problem.
/// Rules: `type`, `customerProfile` (with `name` and `address.country`), `consent` and
/// `details` are required; enum fields hold documented values (see [`allowed_values`]),
/// including the industry, product, service and `Category` solution ids; the country is ISO
/// 3166 alpha-2 and the currency ISO 4217, both upper case; `details.dealValue` is a
/// non-negative number or a numeric string; `details.closingDateTime` is ISO-8601 ending in `Z` or `+00:00`;
/// team emails are well formed; the substatus fits the status ([`substatuses_of`]). Status
/// `None` or no status means "unset, the server decides" and takes no substatus but `None`.
pub fn validate_create<J: Json>(payload: &J) -> Vec<FieldError> {
    validate::create(payload)
}

/// Whether a referral in `from_status` may move to `to_status`/`to_substatus`.
///
/// New → New, Active, Closed; Active → Active, Closed; Closed → Closed; None (unset) → any.
/// `to_substatus` must fit `to_status` (`None`, or substatus `"None"`, always fits).
pub fn validate_transition(
    from_status: &str,
    to_status: &str,
    to_substatus: Option<&str>,
) -> Result<(), FieldError> {
    let status_error = |message: String| FieldError {
        path: "status".to_owned(),
        message,
    };
    let Some(allowed) = validate::next_statuses(from_status) else {
        return Err(status_error(format!(
            "unknown current status {from_status:?}"
        )));
    };
    if !ReferralStatus::VALUES.contains(&to_status) {
        let values = ReferralStatus::VALUES.join(", ");
        return Err(status_error(format!(
            "expected one of {values}, got {to_status:?}"
        )));
    }
    if !allowed.contains(&to_status) {
        let allowed = allowed.join(", ");
        return Err(status_error(format!(
            "cannot move from {from_status} to {to_status} (allowed: {allowed})"
        )));
    }
    if let Some(substatus) = to_substatus
        && !ReferralSubstatus::VALUES.contains(&substatus)
    {
        let values = ReferralSubstatus::VALUES.join(", ");
        return Err(FieldError {
            path: "substatus".to_owned(),
            message: format!("expected one of {values}, got {substatus:?}"),
        });
    }
    validate::check_pair(Some(to_status), to_substatus)
}

/// The problems of a document after a PATCH or PUT: everything [`validate_create`] checks on
/// `after`, plus the status move from `before` (a missing status counts as unchanged), plus
/// server-owned fields (`id`, `engagementId`, `organizationId`, `createdDateTime`,
/// `direction`) that were changed.
pub fn validate_update(before: &Value, after: &Value) -> Vec<FieldError> {
    let mut errors = validate_create(after);
    let status_of = |doc: &Value| doc.get("status").and_then(Value::as_str).map(str::to_owned);
    let from = status_of(before).unwrap_or_else(|| "None".to_owned());
    let to = status_of(after).unwrap_or_else(|| from.clone());
    let to_known = ReferralStatus::VALUES.contains(&to.as_str());
    if to_known
        && let Some(allowed) = validate::next_statuses(&from)
        && !allowed.contains(&to.as_str())
    {
        let allowed = allowed.join(", ");
        errors.push(FieldError {
            path: "status".to_owned(),
            message: format!("cannot move from {from} to {to} (allowed: {allowed})"),
        });
    }
    for key in [
        "id",
        "engagementId",
        "organizationId",
        "createdDateTime",
        "direction",
    ] {
        if let (Some(old), Some(new)) = (before.get(key), after.get(key))
            && !old.is_null()
            && old != new
        {
            errors.push(FieldError {
                path: key.to_owned(),
                message: format!("is set by the server and cannot change (was {old})"),
            });
        }
    }
    errors
}
