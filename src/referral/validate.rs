//! The rules a create payload must meet, and the status state machine.
//!
//! Rules come from the API contract: required `type`, `customerProfile` (with `name` and
//! `address.country`), `consent` and `details`; documented enum values only; ISO 3166 alpha-2
//! country; ISO 4217 currency; `dealValue` a number >= 0 (or a numeric string, which the API
//! coerces); `closingDateTime` in UTC; well-formed team emails; and status/substatus pairs
//! from the table below. Status `None` (or no status) means "unset, the server decides": it
//! takes no substatus but `None`, and may move to any status.
//!
//! | status | may move to          | substatus                     |
//! |--------|----------------------|-------------------------------|
//! | New    | New, Active, Closed  | Pending, Received             |
//! | Active | Active, Closed       | Accepted                      |
//! | Closed | Closed               | Won, Lost, Declined, Expired  |

use serde_json::{Map, Value};

use super::check::{Checker, Need, join, kind};
use super::deal::parse_number;
use super::enums::{
    AssistanceRequestCode, CustomerSize, ProfileType, ReferralQualification, ReferralStatus,
    ReferralSubstatus, ReferralType, SolutionType, TargetType,
};
use super::{FieldError, tables, taxonomy};

/// The substatuses that fit `status` (empty for `None` and unknown statuses).
pub fn substatuses_of(status: &str) -> &'static [&'static str] {
    match status {
        "New" => &["Pending", "Received"],
        "Active" => &["Accepted"],
        "Closed" => &["Won", "Lost", "Declined", "Expired"],
        _ => &[],
    }
}

/// The statuses a referral in `status` may move to (`None` for an unknown status).
pub fn next_statuses(status: &str) -> Option<&'static [&'static str]> {
    match status {
        "None" => Some(ReferralStatus::VALUES),
        "New" => Some(&["New", "Active", "Closed"]),
        "Active" => Some(&["Active", "Closed"]),
        "Closed" => Some(&["Closed"]),
        _ => None,
    }
}

/// Every problem of a create payload.
pub(super) fn create(payload: &Value) -> Vec<FieldError> {
    let mut check = Checker::default();
    match payload {
        Value::Object(root) => {
            top_level(&mut check, root);
            sections(&mut check, root);
        }
        other => check.push("$", format!("expected a JSON object, got {}", kind(other))),
    }
    check.errors
}

const TOP_STRINGS: [&str; 4] = [
    "name",
    "externalReferenceId",
    "statusReason",
    "engagementId",
];
const CONSENTS: [&str; 4] = [
    "consentToToShareInfoWithOthers",
    "consentToContact",
    "consentToMicrosoftToContactSpecificPartners",
    "consentToShareReferralWithMicrosoftSellers",
];

/// The scalar fields of the referral itself, and `target`.
fn top_level(check: &mut Checker, root: &Map<String, Value>) {
    check.strings(root, "", &TOP_STRINGS);
    let status = check.one_of(root, "status", Need::Optional, ReferralStatus::VALUES);
    let substatus = check.one_of(root, "substatus", Need::Optional, ReferralSubstatus::VALUES);
    // A status that is not one of the values was reported; pairing against it says nothing.
    let status_unreadable = status.is_none() && root.get("status").is_some_and(|s| !s.is_null());
    if !status_unreadable && let Err(error) = check_pair(status, substatus) {
        check.errors.push(error);
    }
    check.one_of(root, "type", Need::Required, ReferralType::VALUES);
    let qualifications = ReferralQualification::VALUES;
    check.one_of(root, "qualification", Need::Optional, qualifications);
    for (path, target) in check.objects(root, "target", false) {
        check.one_of(
            target,
            &join(&path, "type"),
            Need::Required,
            TargetType::VALUES,
        );
        check.string(target, &join(&path, "id"), Need::Required);
    }
}

/// The nested objects: customer, consent, deal, seller team, invitation.
fn sections(check: &mut Checker, root: &Map<String, Value>) {
    if let Some(profile) = check.object(root, "customerProfile", Need::Required) {
        customer_profile(check, profile);
    }
    if let Some(consent) = check.object(root, "consent", Need::Required) {
        check.booleans(consent, "consent", &CONSENTS);
    }
    if let Some(details) = check.object(root, "details", Need::Required) {
        deal(check, details);
    }
    members(check, root, "team");
    invite_context(check, root);
}

/// Whether `substatus` fits `status`; both already known-valid or absent.
pub(super) fn check_pair(status: Option<&str>, substatus: Option<&str>) -> Result<(), FieldError> {
    let Some(substatus) = substatus.filter(|s| *s != "None") else {
        return Ok(());
    };
    let status = status.unwrap_or("None");
    let allowed = substatuses_of(status);
    if allowed.contains(&substatus) {
        return Ok(());
    }
    let message = match ["New", "Active", "Closed"]
        .into_iter()
        .find(|owner| substatuses_of(owner).contains(&substatus))
    {
        Some(owner) if allowed.is_empty() => {
            format!("substatus {substatus:?} needs status \"{owner}\", got status {status:?}")
        }
        _ => format!(
            "substatus {substatus:?} does not fit status {status:?}: expected one of {}",
            allowed.join(", ")
        ),
    };
    Err(FieldError {
        path: "substatus".to_owned(),
        message,
    })
}

fn customer_profile(check: &mut Checker, profile: &Map<String, Value>) {
    let path = "customerProfile";
    if let Some(name) = check.string(profile, &join(path, "name"), Need::Required)
        && name.trim().is_empty()
    {
        check.push(join(path, "name"), "must not be empty");
    }
    let address_path = join(path, "address");
    if let Some(address) = check.object(profile, &address_path, Need::Required) {
        let keys = [
            "addressLine1",
            "addressLine2",
            "city",
            "state",
            "postalCode",
            "region",
        ];
        check.strings(address, &address_path, &keys);
        let country_path = join(&address_path, "country");
        if let Some(country) = check.string(address, &country_path, Need::Required)
            && !tables::is_country_code(country)
        {
            check.push(
                country_path,
                format!("expected an ISO 3166 alpha-2 code, got {country:?}"),
            );
        }
    }
    check.one_of(
        profile,
        &join(path, "size"),
        Need::Optional,
        CustomerSize::VALUES,
    );
    members(check, profile, &join(path, "team"));
    for (id_path, id) in check.objects(profile, &join(path, "ids"), true) {
        let type_path = join(&id_path, "profileType");
        check.one_of(id, &type_path, Need::Required, ProfileType::VALUES);
        check.string(id, &join(&id_path, "id"), Need::Required);
    }
}

/// The members of the team array at `path` (`team` or `customerProfile.team`).
fn members(check: &mut Checker, parent: &Map<String, Value>, path: &str) {
    for (member_path, member) in check.objects(parent, path, false) {
        let keys = ["firstName", "lastName", "phoneNumber", "title"];
        check.strings(member, &member_path, &keys);
        let email_path = join(&member_path, "email");
        if let Some(email) = check.string(member, &email_path, Need::Optional)
            && !is_email(email)
        {
            check.push(
                email_path,
                format!("expected an email address, got {email:?}"),
            );
        }
        let preference_path = join(&member_path, "contactPreference");
        if let Some(preference) = check.object(member, &preference_path, Need::Optional) {
            check.strings(preference, &preference_path, &["locale"]);
            check.booleans(preference, &preference_path, &["disableNotifications"]);
        }
    }
}

fn invite_context(check: &mut Checker, root: &Map<String, Value>) {
    let path = "inviteContext";
    let Some(context) = check.object(root, path, Need::Optional) else {
        return;
    };
    check.strings(context, path, &["notes", "invitedMpnId"]);
    let code_path = join(path, "assistanceRequestCode");
    check.one_of(
        context,
        &code_path,
        Need::Optional,
        AssistanceRequestCode::VALUES,
    );
    let by_path = join(path, "invitedBy");
    if let Some(by) = check.object(context, &by_path, Need::Optional) {
        check.strings(by, &by_path, &["organizationId", "organizationName"]);
    }
}

/// `details`: money, date and requirements.
fn deal(check: &mut Checker, details: &Map<String, Value>) {
    let path = "details";
    check.strings(details, path, &["notes"]);
    deal_value(check, details.get("dealValue"));
    let currency_path = join(path, "currency");
    if let Some(currency) = check.string(details, &currency_path, Need::Optional)
        && !tables::is_currency_code(currency)
    {
        check.push(
            currency_path,
            format!("expected an ISO 4217 currency code, got {currency:?}"),
        );
    }
    let date_path = join(path, "closingDateTime");
    if let Some(date) = check.string(details, &date_path, Need::Optional)
        && !is_utc_timestamp(date)
    {
        let message = format!(
            "expected a UTC ISO-8601 date-time ending in Z or +00:00 \
             (e.g. 2018-11-14T00:00:00Z), got {date:?}"
        );
        check.push(date_path, message);
    }
    let requirements_path = join(path, "requirements");
    if let Some(requirements) = check.object(details, &requirements_path, Need::Optional) {
        requirements_tags(check, requirements, &requirements_path);
    }
}

fn deal_value(check: &mut Checker, value: Option<&Value>) {
    let path = "details.dealValue";
    let number = match value {
        None | Some(Value::Null) => return,
        Some(Value::Number(number)) => number.clone(),
        Some(Value::String(text)) => match parse_number(text) {
            Some(number) => number,
            None => {
                check.push(path, format!("expected a number >= 0, got {text:?}"));
                return;
            }
        },
        Some(other) => {
            let message = format!("expected a number >= 0, got {}", kind(other));
            check.push(path, message);
            return;
        }
    };
    if !number.as_f64().is_some_and(|n| n >= 0.0) {
        check.push(path, format!("expected a number >= 0, got {number}"));
    }
}

fn requirements_tags(check: &mut Checker, requirements: &Map<String, Value>, path: &str) {
    let lists = [
        ("industries", taxonomy::INDUSTRIES),
        ("products", taxonomy::PRODUCTS),
        ("services", taxonomy::SERVICES),
    ];
    for (key, allowed) in lists {
        for (tag_path, tag) in check.objects(requirements, &join(path, key), false) {
            check.one_of(tag, &join(&tag_path, "id"), Need::Required, allowed);
        }
    }
    for (solution_path, solution) in check.objects(requirements, &join(path, "solutions"), false) {
        check.strings(solution, &solution_path, &["name"]);
        let solution_type = check.one_of(
            solution,
            &join(&solution_path, "type"),
            Need::Optional,
            SolutionType::VALUES,
        );
        let id_path = join(&solution_path, "id");
        let id = check.string(solution, &id_path, Need::Required);
        if let (Some("Category"), Some(id)) = (solution_type, id)
            && !taxonomy::SOLUTION_CATEGORIES.contains(&id)
        {
            check.push(
                id_path,
                format!("expected a documented solution category, got {id:?}"),
            );
        }
    }
}

/// A UTC ISO-8601 timestamp: parses, and its offset is written `Z` or `+00:00`.
pub(super) fn is_utc_timestamp(text: &str) -> bool {
    let utc = text.ends_with('Z') || text.ends_with('z') || text.ends_with("+00:00");
    utc && text.parse::<jiff::Timestamp>().is_ok()
}

/// A plain, well-formed address: `local@domain.tld`, no spaces, sane labels.
pub(super) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:@\"".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = text.len() <= 254
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    local_ok && domain_ok
}
