//! Tests of the referral module: the seed page's examples through the model, every
//! validation rule with its path and message, and the status state machine.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use referral_sync::referral::{
    FieldError, Referral, ReferralStatus, ReferralSubstatus, country_code, currency_code,
    is_country_code, is_currency_code, validate_create, validate_transition, validate_update,
};
use serde_json::{Number, Value, json};

const SEED_REQUEST: &str = include_str!("../fixtures/seed-create-request.json");
const SEED_RESPONSE: &str = include_str!("../fixtures/seed-create-response.json");

fn seed_request() -> Value {
    serde_json::from_str(SEED_REQUEST).expect("the seed request fixture is JSON")
}

/// The seed request with the value at `pointer` replaced (`Some`) or removed (`None`).
fn seed_with(pointer: &str, value: Option<Value>) -> Value {
    let mut doc = seed_request();
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
    let parent = doc
        .pointer_mut(parent)
        .expect("the parent exists in the seed");
    match (parent, value) {
        (Value::Object(map), Some(value)) => {
            map.insert(key.to_owned(), value);
        }
        (Value::Object(map), None) => {
            map.remove(key);
        }
        (Value::Array(items), Some(value)) => {
            let index: usize = key.parse().expect("an array index");
            items[index] = value;
        }
        (other, _) => panic!("cannot edit {other} at {pointer}"),
    }
    doc
}

fn error(path: &str, message: &str) -> FieldError {
    FieldError {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// Validates the seed with one edit and expects exactly one problem.
fn assert_single(pointer: &str, value: Option<Value>, path: &str, message: &str) {
    let errors = validate_create(&seed_with(pointer, value));
    assert_eq!(
        errors,
        vec![error(path, message)],
        "after editing {pointer}"
    );
}

#[test]
fn seed_request_parses_validates_and_round_trips() {
    let raw = seed_request();
    let referral: Referral = serde_json::from_value(raw.clone()).expect("seed parses");
    assert_eq!(referral.status, Some(ReferralStatus::New));
    assert_eq!(referral.substatus, Some(ReferralSubstatus::Pending));
    let profile = referral.customer_profile.as_ref().expect("customerProfile");
    assert_eq!(profile.ids.as_deref().map(<[_]>::len), Some(0));
    let consent = referral.consent.as_ref().expect("consent");
    assert_eq!(consent.consent_to_to_share_info_with_others, Some(true));
    assert_eq!(validate_create(&raw), vec![]);
    let back = serde_json::to_value(&referral).expect("serializes");
    assert_eq!(back, raw);
}

#[test]
fn seed_response_parses_and_keeps_server_fields() {
    let raw: Value = serde_json::from_str(SEED_RESPONSE).expect("fixture is JSON");
    let referral: Referral = serde_json::from_value(raw.clone()).expect("response parses");
    assert_eq!(
        referral.e_tag.as_deref(),
        Some("\"00006d10-0000-0000-0000-5c70aa630000\"")
    );
    assert_eq!(referral.status, Some(ReferralStatus::Active));
    let links = referral.links.as_ref().expect("links");
    let self_link = links.self_link.as_ref().expect("links.self");
    assert_eq!(self_link.method.as_deref(), Some("GET"));
    assert_eq!(referral.external_reference_id, None);
    // The nulls of the response are dropped on the way back; everything else survives.
    let mut expected = raw.clone();
    if let Value::Object(map) = &mut expected {
        map.retain(|_, value| !value.is_null());
    }
    assert_eq!(
        serde_json::to_value(&referral).expect("serializes"),
        expected
    );
    // New/Pending -> Active/Accepted is the documented outgoing create.
    assert_eq!(validate_update(&seed_request(), &raw), vec![]);
}

#[test]
fn unknown_enum_values_and_fields_survive_a_round_trip() {
    let mut raw = seed_request();
    raw["substatus"] = json!("Engaged");
    raw["salesStage"] = json!("100");
    raw["brandNewField"] = json!({"nested": [1, 2.5, "x"]});
    raw["customerProfile"]["size"] = json!("");
    raw["customerProfile"]["address"]["geo"] = json!({"lat": 47.6});
    raw["target"][0]["type"] = json!("Marketplace");
    raw["details"]["requirements"]["solutions"][0]["type"] = json!("Offer");
    raw["details"]["requirements"]["solutions"][0]["price"] = json!(12.5);
    raw["inviteContext"]["assistanceRequestCode"] = json!("SomethingNew");
    raw["team"][0]["emailValidationStatus"] = json!("Valid");
    let referral: Referral = serde_json::from_value(raw.clone()).expect("parses");
    assert_eq!(
        referral.substatus,
        Some(ReferralSubstatus::Other("Engaged".to_owned()))
    );
    assert_eq!(
        referral.extra.get("brandNewField"),
        Some(&raw["brandNewField"])
    );
    assert_eq!(serde_json::to_value(&referral).expect("serializes"), raw);
}

#[test]
fn customer_profile_ids_read_from_object_or_array_and_write_an_array() {
    let mut raw = seed_request();
    raw["customerProfile"]["ids"] = json!({});
    let referral: Referral = serde_json::from_value(raw.clone()).expect("{} parses");
    let back = serde_json::to_value(&referral).expect("serializes");
    assert_eq!(back["customerProfile"]["ids"], json!([]));
    assert_eq!(validate_create(&raw), vec![]);

    raw["customerProfile"]["ids"] = json!([{"profileType": "Duns", "id": "123456789"}]);
    let referral: Referral = serde_json::from_value(raw.clone()).expect("array parses");
    assert_eq!(serde_json::to_value(&referral).expect("serializes"), raw);
}

#[test]
fn deal_value_as_string_is_read_as_a_number() {
    let raw = seed_with("/details/dealValue", Some(json!("10000.5")));
    let referral: Referral = serde_json::from_value(raw.clone()).expect("parses");
    let back = serde_json::to_value(&referral).expect("serializes");
    assert_eq!(back["details"]["dealValue"], json!(10000.5));
    assert_eq!(validate_create(&raw), vec![]);
}

#[test]
fn required_fields() {
    assert_single("/type", None, "type", "is required");
    assert_single("/consent", None, "consent", "is required");
    assert_single("/details", None, "details", "is required");
    assert_single("/customerProfile", None, "customerProfile", "is required");
    assert_single(
        "/customerProfile/name",
        None,
        "customerProfile.name",
        "is required",
    );
    assert_single(
        "/customerProfile/name",
        Some(json!("  ")),
        "customerProfile.name",
        "must not be empty",
    );
    assert_single(
        "/customerProfile/address/country",
        Some(Value::Null),
        "customerProfile.address.country",
        "is required",
    );
}

#[test]
fn enum_values_must_be_documented() {
    let cases = [
        ("/status", "status", "None, New, Active, Closed"),
        (
            "/substatus",
            "substatus",
            "None, Pending, Received, Accepted, Won, Lost, Declined, Expired",
        ),
        ("/type", "type", "Shared, Independent"),
        (
            "/qualification",
            "qualification",
            "None, Direct, MarketingQualified, SalesQualified",
        ),
        (
            "/target/0/type",
            "target[0].type",
            "None, BusinessProfileLocation, SolutionProfile",
        ),
        (
            "/details/requirements/solutions/0/type",
            "details.requirements.solutions[0].type",
            "None, Category, Name",
        ),
    ];
    for (pointer, path, allowed) in cases {
        let message = format!("expected one of {allowed}, got \"Bogus\"");
        assert_single(pointer, Some(json!("Bogus")), path, &message);
    }
    let errors = validate_create(&seed_with("/customerProfile/size", Some(json!("Huge"))));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "customerProfile.size");
    assert!(errors[0].message.ends_with("got \"Huge\""), "{}", errors[0]);
}

#[test]
fn enum_values_in_nested_objects() {
    let mut raw = seed_request();
    raw["customerProfile"]["ids"] = json!([{"profileType": "Vat", "id": "1"}]);
    raw["inviteContext"]["assistanceRequestCode"] = json!("Help");
    raw["details"]["requirements"]["industries"][0]["id"] = json!("Mining");
    raw["details"]["requirements"]["solutions"][0]["id"] = json!("NotACategory");
    let paths: Vec<String> = validate_create(&raw).into_iter().map(|e| e.path).collect();
    assert_eq!(
        paths,
        [
            "customerProfile.ids[0].profileType",
            "details.requirements.industries[0].id",
            "details.requirements.solutions[0].id",
            "inviteContext.assistanceRequestCode",
        ]
    );
}

#[test]
fn status_and_substatus_must_pair() {
    assert_single(
        "/substatus",
        Some(json!("Won")),
        "substatus",
        "substatus \"Won\" does not fit status \"New\": expected one of Pending, Received",
    );
    let mut raw = seed_request();
    raw["status"] = json!("None");
    let errors = validate_create(&raw);
    let expected = "substatus \"Pending\" needs status \"New\", got status \"None\"";
    assert_eq!(errors, vec![error("substatus", expected)]);
    raw["substatus"] = json!("None");
    assert_eq!(validate_create(&raw), vec![]);
    raw["status"] = json!("Closed");
    raw["substatus"] = json!("Lost");
    assert_eq!(validate_create(&raw), vec![]);
}

#[test]
fn country_must_be_alpha_2() {
    assert_single(
        "/customerProfile/address/country",
        Some(json!("United States")),
        "customerProfile.address.country",
        "expected an ISO 3166 alpha-2 code, got \"United States\"",
    );
    assert_single(
        "/customerProfile/address/country",
        Some(json!(840)),
        "customerProfile.address.country",
        "expected a string, got number",
    );
}

#[test]
fn currency_must_be_iso_4217() {
    assert_single(
        "/details/currency",
        Some(json!("Dollars")),
        "details.currency",
        "expected an ISO 4217 currency code, got \"Dollars\"",
    );
}

#[test]
fn deal_value_must_be_a_non_negative_number() {
    let path = "details.dealValue";
    assert_single(
        "/details/dealValue",
        Some(json!(-5)),
        path,
        "expected a number >= 0, got -5",
    );
    assert_single(
        "/details/dealValue",
        Some(json!("lots")),
        path,
        "expected a number >= 0, got \"lots\"",
    );
    assert_single(
        "/details/dealValue",
        Some(json!(true)),
        path,
        "expected a number >= 0, got boolean",
    );
    let zero = seed_with("/details/dealValue", Some(json!(0)));
    assert_eq!(validate_create(&zero), vec![]);
}

#[test]
fn closing_date_must_be_utc() {
    let message = |got: &str| {
        format!(
            "expected a UTC ISO-8601 date-time ending in Z or +00:00 \
             (e.g. 2018-11-14T00:00:00Z), got \"{got}\""
        )
    };
    for bad in [
        "2018-11-14",
        "2018-11-14T00:00:00+02:00",
        "14/11/2018",
        "2018-13-14T00:00:00Z",
    ] {
        assert_single(
            "/details/closingDateTime",
            Some(json!(bad)),
            "details.closingDateTime",
            &message(bad),
        );
    }
    let offset = seed_with(
        "/details/closingDateTime",
        Some(json!("2018-11-14T10:30:00+00:00")),
    );
    assert_eq!(validate_create(&offset), vec![]);
}

#[test]
fn team_emails_must_be_well_formed() {
    assert_single(
        "/customerProfile/team/1/email",
        Some(json!("joe.hansen at contoso")),
        "customerProfile.team[1].email",
        "expected an email address, got \"joe.hansen at contoso\"",
    );
    for bad in [
        "john@",
        "@contoso.com",
        "john@contoso",
        "john doe@contoso.com",
        "a@b..com",
    ] {
        let message = format!("expected an email address, got \"{bad}\"");
        assert_single("/team/0/email", Some(json!(bad)), "team[0].email", &message);
    }
}

#[test]
fn wrong_types_are_reported_with_their_path() {
    assert_single(
        "/name",
        Some(json!(5)),
        "name",
        "expected a string, got number",
    );
    assert_single(
        "/consent/consentToContact",
        Some(json!("yes")),
        "consent.consentToContact",
        "expected true or false, got string",
    );
    assert_single(
        "/team",
        Some(json!({})),
        "team",
        "expected an array, got object",
    );
    assert_single(
        "/team/0",
        Some(json!("John")),
        "team[0]",
        "expected an object, got string",
    );
    let errors = validate_create(&json!([1, 2]));
    assert_eq!(
        errors,
        vec![error("$", "expected a JSON object, got array")]
    );
}

#[test]
fn every_problem_of_a_payload_is_reported() {
    let payload = json!({
        "status": "Closed",
        "substatus": "Pending",
        "customerProfile": {
            "name": "Contoso",
            "address": {"country": "Germany"},
            "team": [{"email": "ok@contoso.com"}, {"email": "broken"}]
        },
        "details": {"currency": "usd", "dealValue": -1, "closingDateTime": "tomorrow"}
    });
    let paths: Vec<String> = validate_create(&payload)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        paths,
        [
            "substatus",
            "type",
            "customerProfile.address.country",
            "customerProfile.team[1].email",
            "consent",
            "details.dealValue",
            "details.currency",
            "details.closingDateTime",
        ]
    );
}

#[test]
fn status_transitions_follow_the_table() {
    let allowed = [
        ("New", "New", Some("Received")),
        ("New", "Active", Some("Accepted")),
        ("New", "Closed", Some("Declined")),
        ("Active", "Active", None),
        ("Active", "Closed", Some("Won")),
        ("Closed", "Closed", Some("Expired")),
        ("None", "New", Some("Pending")),
        ("Active", "Closed", Some("None")),
    ];
    for (from, to, substatus) in allowed {
        assert_eq!(
            validate_transition(from, to, substatus),
            Ok(()),
            "{from} -> {to}"
        );
    }
    let refused = [
        ("Active", "New", None, "status"),
        ("Closed", "Active", Some("Accepted"), "status"),
        ("Closed", "New", None, "status"),
        ("New", "Active", Some("Pending"), "substatus"),
        ("New", "Closed", Some("Accepted"), "substatus"),
        ("New", "Pending", None, "status"),
        ("Open", "New", None, "status"),
        ("New", "New", Some("Waiting"), "substatus"),
    ];
    for (from, to, substatus, path) in refused {
        let result = validate_transition(from, to, substatus);
        assert_eq!(
            result.map_err(|e| e.path),
            Err(path.to_owned()),
            "{from} -> {to}"
        );
    }
    let closed = validate_transition("Closed", "Active", Some("Accepted"));
    assert_eq!(
        closed,
        Err(error(
            "status",
            "cannot move from Closed to Active (allowed: Closed)"
        ))
    );
}

#[test]
fn updates_check_the_move_and_server_fields() {
    let before: Value = serde_json::from_str(SEED_RESPONSE).expect("fixture is JSON");
    let mut after = before.clone();
    after["status"] = json!("Closed");
    after["substatus"] = json!("Won");
    assert_eq!(validate_update(&before, &after), vec![]);

    let mut reopened = after.clone();
    reopened["status"] = json!("Active");
    reopened["substatus"] = json!("Accepted");
    assert_eq!(
        validate_update(&after, &reopened),
        vec![error(
            "status",
            "cannot move from Closed to Active (allowed: Closed)"
        )]
    );

    let mut moved = before.clone();
    moved["id"] = json!("another-id");
    moved["customerProfile"]["address"]["country"] = json!("USA");
    let paths: Vec<String> = validate_update(&before, &moved)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(paths, ["customerProfile.address.country", "id"]);
}

/// Any JSON: leaves that look like the API's values, objects keyed by the API's field names.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let words = vec![
        "New",
        "Active",
        "Closed",
        "None",
        "Pending",
        "Won",
        "US",
        "USA",
        "USD",
        "Shared",
        "Category",
        "Duns",
        "a@b.co",
        "2018-11-14T00:00:00Z",
        "10000",
        "-1",
        "",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        "[a-zA-Z0-9@. :+-]{0,12}".prop_map(Value::from),
        prop::sample::select(words).prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "type",
        "status",
        "substatus",
        "customerProfile",
        "address",
        "country",
        "name",
        "team",
        "email",
        "ids",
        "details",
        "dealValue",
        "currency",
        "closingDateTime",
        "requirements",
        "solutions",
        "industries",
        "id",
        "consent",
        "target",
        "inviteContext",
        "invitedBy",
        "assistanceRequestCode",
        "profileType",
        "contactPreference",
        "size",
        "eTag",
        "links",
        "self",
        "uri",
        "extraThing",
    ]);
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|map| {
                Value::Object(map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// Places in the seed request where a fuzzed value is dropped in.
const SEED_POINTERS: &[&str] = &[
    "/status",
    "/substatus",
    "/type",
    "/customerProfile",
    "/customerProfile/address",
    "/customerProfile/address/country",
    "/customerProfile/team",
    "/customerProfile/team/1",
    "/customerProfile/team/1/email",
    "/customerProfile/ids",
    "/customerProfile/size",
    "/consent",
    "/consent/consentToContact",
    "/details",
    "/details/dealValue",
    "/details/currency",
    "/details/closingDateTime",
    "/details/requirements",
    "/details/requirements/solutions",
    "/details/requirements/solutions/0",
    "/details/requirements/industries/0",
    "/team",
    "/team/0",
    "/inviteContext",
    "/inviteContext/invitedBy",
    "/target",
    "/target/0",
];

/// Parsing never panics, and what parses survives a trip through JSON unchanged.
fn assert_total(doc: &Value) -> Result<(), TestCaseError> {
    let _ = validate_create(doc);
    let _ = validate_update(&seed_request(), doc);
    let _ = validate_update(doc, &seed_request());
    if let Ok(referral) = serde_json::from_value::<Referral>(doc.clone()) {
        let written =
            serde_json::to_value(&referral).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again: Referral =
            serde_json::from_value(written).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, referral);
    }
    Ok(())
}

proptest! {
    #[test]
    fn any_json_is_handled_without_panicking(doc in arbitrary_json()) {
        assert_total(&doc)?;
    }

    #[test]
    fn any_edit_of_the_seed_is_handled_without_panicking(
        pointer in prop::sample::select(SEED_POINTERS),
        value in arbitrary_json(),
    ) {
        assert_total(&seed_with(pointer, Some(value)))?;
    }

    #[test]
    fn country_and_currency_lookups_never_panic(name in "\\PC{0,20}") {
        if let Some(code) = country_code(&name) {
            prop_assert!(is_country_code(code));
        }
        if let Some(code) = currency_code(&name) {
            prop_assert!(is_currency_code(code));
        }
    }
}
