//! What a pull record holds, for the `[pull]` section: the members a path may start at, the
//! members of `sync`, the path syntax (`customerProfile.team[0].email`), and the standard
//! columns of a pull without a mapping.

use super::pull::Segment;

/// The top-level members of a pull record: the referral as the API returns it, and `sync`.
pub(super) const ROOTS: &[&str] = &[
    "id",
    "engagementId",
    "organizationId",
    "organizationName",
    "externalReferenceId",
    "name",
    "type",
    "qualification",
    "status",
    "substatus",
    "statusReason",
    "direction",
    "createdDateTime",
    "updatedDateTime",
    "expirationDateTime",
    "acceptedDateTime",
    "closedDateTime",
    "salesStage",
    "partnerRole",
    "solutionArea",
    "solutionPlay",
    "customerMarketplaceIntent",
    "customerProfile",
    "consent",
    "details",
    "team",
    "inviteContext",
    "target",
    "eTag",
    "links",
    "trackingInfo",
    "tags",
    "sync",
];

/// The members of a pull record's `sync` object.
pub(super) const SYNC_KEYS: &[&str] = &[
    "changed",
    "connectedStatus",
    "connectedSubstatus",
    "microsoftCrmId",
    "daysLeft",
    "recordId",
];

/// The standard columns: header and path.
pub(super) const STANDARD: &[(&str, &str)] = &[
    ("externalReferenceId", "sync.recordId"),
    ("referralId", "id"),
    ("engagementId", "engagementId"),
    ("direction", "direction"),
    ("type", "type"),
    ("status", "status"),
    ("substatus", "substatus"),
    ("statusReason", "statusReason"),
    ("name", "name"),
    ("dealValue", "details.dealValue"),
    ("currency", "details.currency"),
    ("closingDateTime", "details.closingDateTime"),
    ("microsoftCrmId", "sync.microsoftCrmId"),
    ("connectedStatus", "sync.connectedStatus"),
    ("connectedSubstatus", "sync.connectedSubstatus"),
    ("updatedDateTime", "updatedDateTime"),
    ("changed", "sync.changed"),
    ("customerName", "customerProfile.name"),
    ("customerCountry", "customerProfile.address.country"),
    ("contactFirstName", "customerProfile.team[0].firstName"),
    ("contactLastName", "customerProfile.team[0].lastName"),
    ("contactEmail", "customerProfile.team[0].email"),
    ("contactPhone", "customerProfile.team[0].phoneNumber"),
    ("daysLeft", "sync.daysLeft"),
    ("expirationDateTime", "expirationDateTime"),
];

/// Split a path into keys and indexes: `customerProfile.team[0].email`.
pub(super) fn parse_path(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    for part in text.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if key.trim().is_empty() || key.trim() != key {
            return Err(format!("path {text:?}: empty or blank-padded name"));
        }
        segments.push(Segment::Key(key.to_string()));
        while !rest.is_empty() {
            let index = rest
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .and_then(|(n, r)| Some((n.parse::<usize>().ok()?, r)));
            let Some((index, after)) = index else {
                return Err(format!("path {text:?}: an index is written `[0]`"));
            };
            segments.push(Segment::Index(index));
            rest = after;
        }
    }
    Ok(segments)
}
