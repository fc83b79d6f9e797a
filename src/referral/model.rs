//! The Referral resource and its parts, with the exact JSON names Partner Center uses.
//!
//! Every field is optional and skipped when `None`, so a payload we build carries only what
//! the mapping set, and a response missing a field still parses. Every struct keeps the
//! fields it does not know in `extra` and writes them back, so a GET → change → PUT cycle
//! never drops data the server added after this was written. Quirks kept on purpose:
//! `consentToToShareInfoWithOthers` (double "To"), `type` for the referral and solution type,
//! `customerProfile.ids` read from `[]`, `{}` or `null` but always written as an array, and
//! `eTag` as the server's quoted string (`"\"0000…\""`), passed to `If-Match` verbatim.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::deal::ReferralDetails;
use super::enums::{
    AssistanceRequestCode, CustomerSize, Direction, ProfileType, ReferralQualification,
    ReferralStatus, ReferralSubstatus, ReferralType, TargetType,
};

/// A referral: a lead or co-sell opportunity in Partner Center.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Referral {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engagement_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub business_profile_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Our CRM record id; the key the ledger and reconcile match on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_reference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ReferralStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substatus: Option<ReferralSubstatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// Required on create. On the wire: `type`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub referral_type: Option<ReferralType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualification: Option<ReferralQualification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Marketplace leads only; values not documented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_to_action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_marketplace_intent: Option<String>,
    /// Services co-sell only; the FY26 values are not documented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solution_play: Option<String>,
    /// Required on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_profile: Option<CustomerProfile>,
    /// Required on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
    /// Required on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<ReferralDetails>,
    /// The partner's (or the inviter's) seller team.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<Vec<Member>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_context: Option<InviteContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<ReferralTarget>>,
    /// The quoted version string, e.g. `"\"00006d10-…\""`; send it as `If-Match` unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// Server-filled; remove before a PUT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_info: Option<TrackingInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub favorite: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_spam: Option<bool>,
    /// Swagger enum Qualify/Develop/Propose/Close, yet `"100"` was observed: kept a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpn_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_sensitivity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_status: Option<String>,
    /// Observed fields of unknown shape: kept as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified_via: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_via: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral_program: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrations: Option<Vec<Value>>,
    /// Fields this build does not know, written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The customer organisation and its contacts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Required on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Required on create (at least `country`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<CustomerSize>,
    /// Customer contacts; a co-sell referral needs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<Vec<Member>>,
    /// Read from `[]`, `{}`, `null` or a lone object; always written as an array.
    #[serde(
        default,
        deserialize_with = "profile_ids",
        skip_serializing_if = "Option::is_none"
    )]
    pub ids: Option<Vec<CustomerProfileId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_matching_complete: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One external identity of the customer (a DUNS number, an id in another system).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerProfileId {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_type: Option<ProfileType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A postal address; `country` is ISO 3166 alpha-2.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A person on a team (the customer's or the partner's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_preference: Option<ContactPreference>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How a member wants to be contacted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactPreference {
    /// A .NET culture name such as `en-us`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_notifications: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The customer's consents. Required on create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    /// On the wire `consentToToShareInfoWithOthers`: the double "To" is real.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_to_to_share_info_with_others: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_to_contact: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_to_microsoft_to_contact_specific_partners: Option<bool>,
    /// `false` makes the referral a private deal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_to_share_referral_with_microsoft_sellers: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who invited whom, and what help is asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<InvitedBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assistance_request_code: Option<AssistanceRequestCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_mpn_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The inviting organisation; `organizationId` is `"msft"` for Microsoft.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitedBy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who the referral is for: a solution profile or a business location (`msft`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferralTarget {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Server-filled links; follow them verbatim (the docs' URLs carry typos).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_referrals: Option<Link>,
    #[serde(rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_link: Option<Link>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One link: `{ "uri": "…", "method": "GET" }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Ids of the deal in Microsoft's own systems, filled in when Microsoft engages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub microsoft_msx_id: Option<String>,
    #[serde(
        rename = "microsoftUSFedOpportunityId",
        skip_serializing_if = "Option::is_none"
    )]
    pub microsoft_us_fed_opportunity_id: Option<String>,
    #[serde(
        rename = "microsoftUSFedLeadId",
        skip_serializing_if = "Option::is_none"
    )]
    pub microsoft_us_fed_lead_id: Option<String>,
    #[serde(rename = "migratedPSCDealId", skip_serializing_if = "Option::is_none")]
    pub migrated_psc_deal_id: Option<String>,
    #[serde(
        rename = "migratedPSCPartnerDealId",
        skip_serializing_if = "Option::is_none"
    )]
    pub migrated_psc_partner_deal_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One page of `GET /referrals`: `value`, and `@odata.nextLink` while there are more.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferralPage {
    #[serde(rename = "@odata.context", skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default)]
    pub value: Vec<Referral>,
    /// Follow verbatim, even when it lacks `/engagements` or uses http.
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `customerProfile.ids`: an array, `{}` (empty), a lone `{profileType,id}` object, or null.
fn profile_ids<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<CustomerProfileId>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ids {
        List(Vec<CustomerProfileId>),
        One(CustomerProfileId),
    }
    Ok(match Option::<Ids>::deserialize(deserializer)? {
        None => None,
        Some(Ids::List(ids)) => Some(ids),
        Some(Ids::One(one)) if one == CustomerProfileId::default() => Some(Vec::new()),
        Some(Ids::One(one)) => Some(vec![one]),
    })
}
