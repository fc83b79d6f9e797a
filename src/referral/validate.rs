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

use super::check::{At, Checker, Json, JsonObject, Need, View, kind};
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
pub(super) fn create<J: Json>(payload: &J) -> Vec<FieldError> {
    let mut check = Checker::<J>::default();
    match payload.view() {
        View::Object(root) => {
            top_level(&mut check, root);
            sections(&mut check, root);
        }
        _ => check.push(
            At::Root,
            format!("expected a JSON object, got {}", kind(payload)),
        ),
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
fn top_level<J: Json>(check: &mut Checker<J>, root: &J::Object) {
    let at = At::Root;
    check.strings(root, at, &TOP_STRINGS);
    let status = check.one_of(
        root,
        at.key("status"),
        Need::Optional,
        ReferralStatus::VALUES,
    );
    let substatus = check.one_of(
        root,
        at.key("substatus"),
        Need::Optional,
        ReferralSubstatus::VALUES,
    );
    // A status that is not one of the values was reported; pairing against it says nothing.
    let status_unreadable = status.is_none()
        && root
            .member("status")
            .is_some_and(|s| !matches!(s.view(), View::Null));
    if !status_unreadable && let Err(error) = check_pair(status, substatus) {
        check.errors.push(error);
    }
    check.one_of(root, at.key("type"), Need::Required, ReferralType::VALUES);
    let qualifications = ReferralQualification::VALUES;
    check.one_of(
        root,
        at.key("qualification"),
        Need::Optional,
        qualifications,
    );
    let targets = at.key("target");
    for (index, target) in check.objects(root, targets, false) {
        let target_at = targets.index(index);
        let type_at = target_at.key("type");
        check.one_of(target, type_at, Need::Required, TargetType::VALUES);
        check.string(target, target_at.key("id"), Need::Required);
    }
}

/// The nested objects: customer, consent, deal, seller team, invitation.
fn sections<J: Json>(check: &mut Checker<J>, root: &J::Object) {
    let at = At::Root;
    let profile_at = at.key("customerProfile");
    if let Some(profile) = check.object(root, profile_at, Need::Required) {
        customer_profile(check, profile, profile_at);
    }
    let consent_at = at.key("consent");
    if let Some(consent) = check.object(root, consent_at, Need::Required) {
        check.booleans(consent, consent_at, &CONSENTS);
    }
    let details_at = at.key("details");
    if let Some(details) = check.object(root, details_at, Need::Required) {
        deal(check, details, details_at);
    }
    members(check, root, at.key("team"));
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

/// `customerProfile`, at `at`.
fn customer_profile<J: Json>(check: &mut Checker<J>, profile: &J::Object, at: At<'_>) {
    let name_at = at.key("name");
    if let Some(name) = check.string(profile, name_at, Need::Required)
        && name.trim().is_empty()
    {
        check.push(name_at, "must not be empty");
    }
    let address_at = at.key("address");
    if let Some(address) = check.object(profile, address_at, Need::Required) {
        let keys = [
            "addressLine1",
            "addressLine2",
            "city",
            "state",
            "postalCode",
            "region",
        ];
        check.strings(address, address_at, &keys);
        let country_at = address_at.key("country");
        if let Some(country) = check.string(address, country_at, Need::Required)
            && !tables::is_country_code(country)
        {
            check.push(
                country_at,
                format!("expected an ISO 3166 alpha-2 code, got {country:?}"),
            );
        }
    }
    check.one_of(
        profile,
        at.key("size"),
        Need::Optional,
        CustomerSize::VALUES,
    );
    members(check, profile, at.key("team"));
    let ids_at = at.key("ids");
    for (index, id) in check.objects(profile, ids_at, true) {
        let id_at = ids_at.index(index);
        let type_at = id_at.key("profileType");
        check.one_of(id, type_at, Need::Required, ProfileType::VALUES);
        check.string(id, id_at.key("id"), Need::Required);
    }
}

/// The members of the team array at `at` (`team` or `customerProfile.team`).
fn members<J: Json>(check: &mut Checker<J>, parent: &J::Object, at: At<'_>) {
    for (index, member) in check.objects(parent, at, false) {
        let member_at = at.index(index);
        let keys = ["firstName", "lastName", "phoneNumber", "title"];
        check.strings(member, member_at, &keys);
        let email_at = member_at.key("email");
        if let Some(email) = check.string(member, email_at, Need::Optional)
            && !is_email(email)
        {
            check.push(
                email_at,
                format!("expected an email address, got {email:?}"),
            );
        }
        let preference_at = member_at.key("contactPreference");
        if let Some(preference) = check.object(member, preference_at, Need::Optional) {
            check.strings(preference, preference_at, &["locale"]);
            check.booleans(preference, preference_at, &["disableNotifications"]);
        }
    }
}

fn invite_context<J: Json>(check: &mut Checker<J>, root: &J::Object) {
    let root_at = At::Root;
    let at = root_at.key("inviteContext");
    let Some(context) = check.object(root, at, Need::Optional) else {
        return;
    };
    check.strings(context, at, &["notes", "invitedMpnId"]);
    let code_at = at.key("assistanceRequestCode");
    check.one_of(
        context,
        code_at,
        Need::Optional,
        AssistanceRequestCode::VALUES,
    );
    let by_at = at.key("invitedBy");
    if let Some(by) = check.object(context, by_at, Need::Optional) {
        check.strings(by, by_at, &["organizationId", "organizationName"]);
    }
}

/// `details`, at `at`: money, date and requirements.
fn deal<J: Json>(check: &mut Checker<J>, details: &J::Object, at: At<'_>) {
    check.strings(details, at, &["notes"]);
    deal_value(check, details.member("dealValue"), at.key("dealValue"));
    let currency_at = at.key("currency");
    if let Some(currency) = check.string(details, currency_at, Need::Optional)
        && !tables::is_currency_code(currency)
    {
        check.push(
            currency_at,
            format!("expected an ISO 4217 currency code, got {currency:?}"),
        );
    }
    let date_at = at.key("closingDateTime");
    if let Some(date) = check.string(details, date_at, Need::Optional)
        && !is_utc_timestamp(date)
    {
        let message = format!(
            "expected a UTC ISO-8601 date-time ending in Z or +00:00 \
             (e.g. 2018-11-14T00:00:00Z), got {date:?}"
        );
        check.push(date_at, message);
    }
    let requirements_at = at.key("requirements");
    if let Some(requirements) = check.object(details, requirements_at, Need::Optional) {
        requirements_tags(check, requirements, requirements_at);
    }
}

fn deal_value<J: Json>(check: &mut Checker<J>, value: Option<&J>, at: At<'_>) {
    let Some(value) = value else {
        return;
    };
    let number = match value.view() {
        View::Null => return,
        View::Number(number) => number.clone(),
        View::String(text) => match parse_number(text) {
            Some(number) => number,
            None => {
                check.push(at, format!("expected a number >= 0, got {text:?}"));
                return;
            }
        },
        View::Bool(_) | View::Array(_) | View::Object(_) => {
            let message = format!("expected a number >= 0, got {}", kind(value));
            check.push(at, message);
            return;
        }
    };
    if !number.as_f64().is_some_and(|n| n >= 0.0) {
        check.push(at, format!("expected a number >= 0, got {number}"));
    }
}

fn requirements_tags<J: Json>(check: &mut Checker<J>, requirements: &J::Object, at: At<'_>) {
    let lists = [
        ("industries", taxonomy::INDUSTRIES),
        ("products", taxonomy::PRODUCTS),
        ("services", taxonomy::SERVICES),
    ];
    for (key, allowed) in lists {
        let list_at = at.key(key);
        for (index, tag) in check.objects(requirements, list_at, false) {
            let tag_at = list_at.index(index);
            check.one_of(tag, tag_at.key("id"), Need::Required, allowed);
        }
    }
    let solutions_at = at.key("solutions");
    for (index, solution) in check.objects(requirements, solutions_at, false) {
        solution_tag(check, solution, solutions_at.index(index));
    }
}

/// One element of `details.requirements.solutions`, at `at`.
fn solution_tag<J: Json>(check: &mut Checker<J>, solution: &J::Object, at: At<'_>) {
    check.strings(solution, at, &["name"]);
    let type_at = at.key("type");
    let solution_type = check.one_of(solution, type_at, Need::Optional, SolutionType::VALUES);
    let id_at = at.key("id");
    let id = check.string(solution, id_at, Need::Required);
    if let (Some("Category"), Some(id)) = (solution_type, id)
        && !taxonomy::SOLUTION_CATEGORIES.contains(&id)
    {
        check.push(
            id_at,
            format!("expected a documented solution category, got {id:?}"),
        );
    }
}

/// A UTC ISO-8601 timestamp: parses, and its offset is written `Z` or `+00:00`.
pub(super) fn is_utc_timestamp(text: &str) -> bool {
    let utc = text.ends_with('Z') || text.ends_with('z') || text.ends_with("+00:00");
    utc && text.parse::<jiff::Timestamp>().is_ok()
}

/// A plain, well-formed address: `local@domain.tld`, no spaces, sane labels.
pub(super) fn is_email(text: &str) -> bool {
    if text.is_ascii() {
        return is_ascii_email(text.as_bytes());
    }
    email_by_chars(text)
}

/// [`is_email`] for any text.
fn email_by_chars(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local
            .as_bytes()
            .windows(2)
            .any(|pair| matches!(pair, [b'.', b'.']))
        && local_chars_ok(local);
    let tld_ok = domain
        .rsplit_once('.')
        .is_some_and(|(_, tld)| tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    let domain_ok = text.len() <= 254 && tld_ok && domain.split('.').all(label_ok);
    local_ok && domain_ok
}

/// [`is_email`] for ASCII text, the usual case, in one pass over the bytes.
fn is_ascii_email(text: &[u8]) -> bool {
    let Some(at) = text.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (
        text.get(..at).unwrap_or_default(),
        text.get(at + 1..).unwrap_or_default(),
    );
    let plain = |b: &u8| {
        b.is_ascii_graphic()
            && !matches!(
                b,
                b'<' | b'>' | b'(' | b')' | b'[' | b']' | b'\\' | b',' | b';' | b':' | b'@' | b'"'
            )
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.first() != Some(&b'.')
        && local.last() != Some(&b'.')
        && !local.windows(2).any(|pair| matches!(pair, [b'.', b'.']))
        && local.iter().all(plain);
    let mut labels = domain.split(|&b| b == b'.');
    let labels_ok = labels.all(|label| {
        (1..=63).contains(&label.len())
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    });
    let tld_ok = domain.contains(&b'.')
        && domain
            .rsplit(|&b| b == b'.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic));
    local_ok && labels_ok && tld_ok && text.len() <= 254
}

/// One label of a domain: 1-63 bytes of letters, digits and inner hyphens.
fn label_ok(label: &str) -> bool {
    let chars_ok = if label.is_ascii() {
        label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    } else {
        label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && chars_ok
}

/// The local part of an address has no space, control character or special (`<>()[]\\,;:@"`);
/// ASCII text, the usual case, is checked byte by byte.
fn local_chars_ok(local: &str) -> bool {
    const SPECIAL: &str = "<>()[]\\,;:@\"";
    if local.is_ascii() {
        return local
            .bytes()
            .all(|b| b.is_ascii_graphic() && !SPECIAL.as_bytes().contains(&b));
    }
    local
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && !SPECIAL.contains(c))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{email_by_chars, is_email};

    #[test]
    fn emails_are_told_from_other_text() {
        for good in [
            "a@b.example",
            "first.last+tag@mail.contoso.com",
            "x@xn--bcher-kva.ch",
        ] {
            assert!(is_email(good), "{good}");
        }
        let bad = [
            "",
            "a",
            "@b.example",
            "a@",
            "a@b",
            "a@b.c",
            "a..b@c.example",
            ".a@c.example",
            "a.@c.example",
            "a b@c.example",
            "a@-b.example",
            "a@b-.example",
            "a@b..example",
            "a@b.example1",
            "a\"b@c.example",
            "a@b@c.example",
            "a@.example",
        ];
        for text in bad {
            assert!(!is_email(text), "{text}");
        }
    }

    proptest! {
        #[test]
        fn the_ascii_check_agrees_with_the_general_one(
            text in "[a-z.@\\- \"]{0,12}|[a-z0-9._-]{1,20}@[a-z0-9.-]{1,20}|[ -~]{0,30}",
        ) {
            prop_assert_eq!(is_email(&text), email_by_chars(&text));
        }
    }
}
