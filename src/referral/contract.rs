//! Microsoft's contract for the Referral resource, as data: every property the swagger
//! (`Microsoft.Partner.Service.PartnerReferrals.Contracts.V3.Referral` in the Partner Center
//! Referrals connector definition) types, who owns it, and the paths a JSON Patch may touch
//! (its `UpdateReferralDetails`).
//!
//! The table was written from the swagger by hand and is held to it by a test that reads the
//! swagger in place when it is present. Paths are `/`-separated member names; `[]` stands for
//! every element of an array. A property the table does not know (the docs' `title` of a team
//! member, a solution's `price`, ...) is not typed by the contract and is kept as sent.
//!
//! Server-owned properties are the swagger's `readOnly` ones plus those the docs say the
//! server fills (`id`, `engagementId`, the dates, `eTag`, `links`, ...): they are ignored in a
//! create or PUT body (a PUT body is a GET's answer with changes, so it carries them) and
//! refused in a PATCH. The choices are written down in `docs/contract.md`.

/// The JSON type a property has on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Text,
    /// A string holding an ISO-8601 date-time.
    DateTime,
    Boolean,
    /// A JSON number (`float` in the swagger).
    Number,
    Object,
    Array,
    /// The swagger gives no type (array items of `solutions`, `offers`, `ids`).
    Any,
}

/// Who writes a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Client,
    Server,
}

/// One property of the contract.
#[derive(Debug, Clone, Copy)]
pub struct Property {
    /// `details/requirements/industries/[]/id`.
    pub path: &'static str,
    pub kind: Type,
    /// The swagger's `enum`, when it has one.
    pub values: &'static [&'static str],
    pub owner: Owner,
}

const fn client(path: &'static str, kind: Type) -> Property {
    Property {
        path,
        kind,
        values: &[],
        owner: Owner::Client,
    }
}

const fn server(path: &'static str, kind: Type) -> Property {
    Property {
        path,
        kind,
        values: &[],
        owner: Owner::Server,
    }
}

const fn one_of(path: &'static str, values: &'static [&'static str]) -> Property {
    Property {
        path,
        kind: Type::Text,
        values,
        owner: Owner::Client,
    }
}

/// Every property of the swagger's Referral, in its order. Server-owned ones are listed at
/// their top level only: nothing a client sends below them is kept.
pub const PROPERTIES: &[Property] = &[
    server("@odata.context", Type::Text),
    client("campaignId", Type::Text),
    client("consent", Type::Object),
    client("consent/consentToContact", Type::Boolean),
    client("consent/consentToToShareInfoWithOthers", Type::Boolean),
    client(
        "consent/consentToShareReferralWithMicrosoftSellers",
        Type::Boolean,
    ),
    server("createdDateTime", Type::DateTime),
    client("customerProfile", Type::Object),
    client("customerProfile/address", Type::Object),
    client("customerProfile/address/addressLine1", Type::Text),
    client("customerProfile/address/addressLine2", Type::Text),
    client("customerProfile/address/city", Type::Text),
    client("customerProfile/address/country", Type::Text),
    client("customerProfile/address/postalCode", Type::Text),
    client("customerProfile/address/region", Type::Text),
    client("customerProfile/address/state", Type::Text),
    client("customerProfile/ids", Type::Array),
    client("customerProfile/ids/[]", Type::Any),
    client("customerProfile/name", Type::Text),
    client("customerProfile/size", Type::Text),
    client("customerProfile/team", Type::Array),
    client("customerProfile/team/[]", Type::Object),
    client("customerProfile/team/[]/contactPreference", Type::Object),
    client(
        "customerProfile/team/[]/contactPreference/disableNotifications",
        Type::Boolean,
    ),
    client(
        "customerProfile/team/[]/contactPreference/locale",
        Type::Text,
    ),
    client("customerProfile/team/[]/email", Type::Text),
    client("customerProfile/team/[]/firstName", Type::Text),
    client("customerProfile/team/[]/lastName", Type::Text),
    client("customerProfile/team/[]/phoneNumber", Type::Text),
    client("details", Type::Object),
    client("details/closingDateTime", Type::DateTime),
    client("details/currency", Type::Text),
    client("details/customerAction", Type::Text),
    client("details/customerRequestedContact", Type::Boolean),
    client("details/dealValue", Type::Number),
    client("details/notes", Type::Text),
    client("details/requirements", Type::Object),
    client("details/requirements/industries", Type::Array),
    client("details/requirements/industries/[]", Type::Object),
    client("details/requirements/industries/[]/id", Type::Text),
    client("details/requirements/products", Type::Array),
    client("details/requirements/products/[]", Type::Object),
    client("details/requirements/products/[]/id", Type::Text),
    client("details/requirements/services", Type::Array),
    client("details/requirements/services/[]", Type::Object),
    client("details/requirements/services/[]/id", Type::Text),
    client("details/requirements/solutions", Type::Array),
    client("details/requirements/solutions/[]", Type::Any),
    client("details/requirements/offers", Type::Array),
    client("details/requirements/offers/[]", Type::Any),
    client("details/requirements/additionalRequirements", Type::Object),
    server("eTag", Type::Text),
    server("engagementId", Type::Text),
    server("expirationDateTime", Type::DateTime),
    client("externalReferenceId", Type::Text),
    client("favorite", Type::Boolean),
    server("id", Type::Text),
    client("inviteContext", Type::Object),
    one_of(
        "inviteContext/assistanceRequestCode",
        &[
            "Unknown",
            "GeneralOrOther",
            "CustomerTechnicalArchitecture",
            "ProofOfConceptOrDemo",
            "QuotesOrLicensing",
            "PostSalesCustomerSuccess",
            "WorkloadSpecificValueProposition",
        ],
    ),
    client("inviteContext/invitedBy", Type::Object),
    client("inviteContext/invitedBy/organizationId", Type::Text),
    client("inviteContext/invitedBy/organizationName", Type::Text),
    client("inviteContext/notes", Type::Text),
    client("lastModifiedVia", Type::Text),
    client("lastRunId", Type::Text),
    server("links", Type::Object),
    client("name", Type::Text),
    server("organizationId", Type::Text),
    server("organizationName", Type::Text),
    client("qualification", Type::Text),
    client("referralProgram", Type::Text),
    one_of("salesStage", &["Qualify", "Develop", "Propose", "Close"]),
    client("status", Type::Text),
    client("statusReason", Type::Text),
    client("substatus", Type::Text),
    client("target", Type::Array),
    client("target/[]", Type::Object),
    client("target/[]/id", Type::Text),
    client("target/[]/type", Type::Text),
    client("team", Type::Array),
    client("team/[]", Type::Object),
    client("team/[]/contactPreference", Type::Object),
    client(
        "team/[]/contactPreference/disableNotifications",
        Type::Boolean,
    ),
    client("team/[]/contactPreference/locale", Type::Text),
    client("team/[]/email", Type::Text),
    client("team/[]/firstName", Type::Text),
    client("team/[]/lastName", Type::Text),
    client("team/[]/phoneNumber", Type::Text),
    server("trackingInfo", Type::Object),
    client("type", Type::Text),
    server("updatedDateTime", Type::DateTime),
    client("mpnId", Type::Text),
    server("registrations", Type::Array),
    server("registrationStatus", Type::Text),
    client("callToAction", Type::Text),
    client("referralSource", Type::Text),
    server("quality", Type::Text),
    server("isSpam", Type::Boolean),
    server("direction", Type::Text),
    server("tags", Type::Array),
    server("acceptedDateTime", Type::DateTime),
    server("closedDateTime", Type::DateTime),
];

/// The JSON Pointers a PATCH may target: the `path` enum of the swagger's
/// `UpdateReferralDetails`, whose `op` is `add` or `replace`. `/-` appends to the array.
/// The client leaves out of its patches every change these do not cover.
pub const PATCHABLE: &[&str] = &[
    "/campaignId",
    "/consent/consentToShareReferralWithMicrosoftSellers",
    "/customerProfile/team",
    "/customerProfile/team/-",
    "/details/closingDateTime",
    "/details/currency",
    "/details/dealValue",
    "/details/notes",
    "/details/requirements/solutions",
    "/details/requirements/solutions/-",
    "/externalReferenceId",
    "/referralProgram",
    "/salesStage",
    "/status",
    "/substatus",
    "/statusReason",
    "/team",
    "/team/-",
];

/// Why a change outside [`PATCHABLE`] is not sent: the words the client reports and the
/// sandbox answers with.
pub const NOT_PATCHABLE_REASON: &str =
    "Partner Center does not let this field change after creation (not a patchable path)";

/// The status whose referrals no longer take any change: Closed, whatever its substatus
/// (Won, Lost, Declined, Expired). The docs: "no actions are permitted after a deal reaches a
/// terminal state".
pub const TERMINAL_STATUS: &str = "Closed";

/// The property at `path` (member names compared without regard to case, as the service
/// binds them).
pub fn property(path: &str) -> Option<&'static Property> {
    PROPERTIES
        .iter()
        .find(|p| p.path.eq_ignore_ascii_case(path))
}

/// The canonical spelling of a patchable pointer, when `pointer` is one (compared without
/// regard to case).
pub fn patchable(pointer: &str) -> Option<&'static str> {
    PATCHABLE
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(pointer))
}

/// Whether a referral in `status` is in a terminal state.
pub fn is_terminal(status: Option<&str>) -> bool {
    status.is_some_and(|s| s.eq_ignore_ascii_case(TERMINAL_STATUS))
}

/// The top-level properties the server owns.
pub fn server_owned() -> impl Iterator<Item = &'static str> {
    PROPERTIES
        .iter()
        .filter(|p| p.owner == Owner::Server)
        .map(|p| p.path)
}

/// Fields of the connected referral that are Microsoft's side to set, or fixed once it is
/// made: never patched.
const CONNECTED_NOT_PATCHED: [&str; 4] =
    ["status", "substatus", "engagementId", "externalReferenceId"];

/// The connected payload without the fields that are never patched.
pub fn connected_patchable(connected: &serde_json::Value) -> serde_json::Value {
    let mut wanted = connected.clone();
    if let Some(object) = wanted.as_object_mut() {
        for key in CONNECTED_NOT_PATCHED {
            object.remove(key);
        }
    }
    wanted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_server_owned_ones_are_top_level() {
        for (i, p) in PROPERTIES.iter().enumerate() {
            assert!(
                PROPERTIES[i + 1..].iter().all(|q| q.path != p.path),
                "{} twice",
                p.path
            );
            if p.owner == Owner::Server {
                assert!(!p.path.contains('/'), "{}", p.path);
            }
        }
    }

    #[test]
    fn every_patchable_path_is_a_client_property() {
        for pointer in PATCHABLE {
            let path = pointer.trim_start_matches('/').trim_end_matches("/-");
            let found = property(path).map(|p| p.owner);
            assert_eq!(found, Some(Owner::Client), "{pointer}");
        }
        assert_eq!(patchable("/Details/DealValue"), Some("/details/dealValue"));
        assert_eq!(patchable("/name"), None);
    }
}
