//! The `[pull]` section of a mapping file: the CRM columns of a pull file, rendered from pull
//! records (the referral JSON plus `sync`), every load problem at its line:col, and the
//! per-row error of a value a map does not list.

use referral_sync::mapping::{PullCellError, PullColumns};
use serde_json::{Value, json};

use super::{BASE, compile, diagnostics};

/// A pull record as the pull command builds it.
fn record() -> Value {
    json!({
        "id": "ref-1",
        "engagementId": "eng-1",
        "externalReferenceId": "OPP-1",
        "name": "Espresso machines",
        "direction": "Outgoing",
        "status": "Closed",
        "substatus": "Won",
        "statusReason": "",
        "updatedDateTime": "2026-11-30T23:30:00Z",
        "customerProfile": {
            "name": "Alpine Ski House",
            "address": { "country": "US" },
            "team": [{ "firstName": "Cacilia", "lastName": "Viera", "email": "cv@example.com" }]
        },
        "details": { "dealValue": 18500, "currency": "USD", "closingDateTime": "2027-01-15T00:00:00Z" },
        "trackingInfo": { "microsoftMsxId": "7-ABC" },
        "sync": { "changed": "status;substatus", "microsoftCrmId": "7-ABC", "recordId": "OPP-1" }
    })
}

/// The `[pull]` columns of a mapping: BASE plus `pull`.
fn pull(section: &str) -> PullColumns {
    let mapping = compile(&format!("{BASE}\n{section}"));
    mapping.pull_columns().expect("a [pull] section").clone()
}

#[test]
fn columns_keep_the_file_order_and_read_paths_templates_and_literals() {
    let columns = pull(
        r#"
[pull]
Record = "sync.recordId"
Topic = "name"
Stage = { template = "{status}/{substatus}" }
Contact = "customerProfile.team[0].email"
Second = "customerProfile.team[1].email"
Source = { value = "Partner Center" }
Changed = "sync.changed"
Msx = "trackingInfo.microsoftMsxId"
"#,
    );
    assert_eq!(
        columns.headers(),
        [
            "Record", "Topic", "Stage", "Contact", "Second", "Source", "Changed", "Msx"
        ]
    );
    assert_eq!(
        columns.row(&record()).unwrap(),
        [
            "OPP-1",
            "Espresso machines",
            "Closed/Won",
            "cv@example.com",
            "",
            "Partner Center",
            "status;substatus",
            "7-ABC"
        ]
    );
}

#[test]
fn value_maps_turn_partner_center_values_into_the_crms() {
    let columns = pull(
        r#"
[tables.stage]
values = { "Closed/Won" = "Won", "Closed/Lost" = "Lost" }

[pull]
Status = { template = "{status}/{substatus}", map = "stage" }
Code = { path = "status", map = { New = 0, Closed = 1 } }
Reason = { path = "statusReason", map = { x = "y" }, default = "none given" }
Other = { path = "substatus", map = { Lost = "L" }, map_default = "other" }
"#,
    );
    assert_eq!(
        columns.row(&record()).unwrap(),
        ["Won", "1", "none given", "other"]
    );
}

#[test]
fn a_value_the_map_does_not_list_is_an_error_naming_column_value_and_referral() {
    let columns = pull(
        r#"
[pull]
Status = { template = "{status}/{substatus}", map = { "Closed/Lost" = "Lost" } }
"#,
    );
    let err: PullCellError = columns.row(&record()).unwrap_err();
    assert_eq!(err.column, "Status");
    assert_eq!(err.path, "{status}/{substatus}");
    assert_eq!(err.referral, "ref-1");
    assert!(err.message.contains("\"Closed/Won\""), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("referral ref-1: column \"Status\" ({status}/{substatus}): "),
        "{text}"
    );
}

#[test]
fn numbers_dates_and_bools_are_written_as_the_crm_reads_them() {
    let columns = pull(
        r#"
[pull]
Amount = "details.dealValue"
Fixed = { path = "details.dealValue", decimals = 2 }
Comma = { path = "details.dealValue", decimals = 2, decimal_comma = true }
Iso = "details.closingDateTime"
Us = { path = "details.closingDateTime", format = "%m/%d/%Y" }
Berlin = { path = "updatedDateTime", format = "%d.%m.%Y %H:%M", timezone = "Europe/Berlin" }
Consent = { path = "consent.consentToContact", true = "Yes", false = "No" }
"#,
    );
    let mut rec = record();
    rec["consent"] = json!({ "consentToContact": false });
    assert_eq!(
        columns.row(&rec).unwrap(),
        [
            "18500",
            "18500.00",
            "18500,00",
            "2027-01-15T00:00:00Z",
            "01/15/2027",
            "01.12.2026 00:30",
            "No"
        ]
    );
    rec["details"]["dealValue"] = json!(7200.5);
    assert_eq!(columns.row(&rec).unwrap()[0], "7200.5");
    // A date-time without an offset, or a bare date, is UTC.
    for text in ["2027-01-15", "2027-01-15T00:00:00"] {
        rec["details"]["closingDateTime"] = json!(text);
        assert_eq!(columns.row(&rec).unwrap()[4], "01/15/2027", "{text}");
    }
}

#[test]
fn a_date_that_is_not_a_date_time_is_an_error_of_the_row() {
    let columns =
        pull("[pull]\nClose = { path = \"details.closingDateTime\", format = \"%Y-%m-%d\" }\n");
    let mut rec = record();
    rec["details"]["closingDateTime"] = json!("soon");
    let err = columns.row(&rec).unwrap_err();
    assert_eq!(
        (err.column.as_str(), err.path.as_str()),
        ("Close", "details.closingDateTime")
    );
    assert!(err.message.contains("\"soon\""), "{err}");
}

#[test]
fn an_object_is_an_error_naming_the_path_and_a_list_of_scalars_is_joined() {
    let columns = pull("[pull]\nCustomer = \"customerProfile\"\nTags = \"tags\"\n");
    let err = columns.row(&record()).unwrap_err();
    assert_eq!(err.path, "customerProfile");
    assert!(err.message.contains("object"), "{err}");
    let columns = pull("[pull]\nTags = \"tags\"\n");
    let mut rec = record();
    rec["tags"] = json!(["a", "b"]);
    assert_eq!(columns.row(&rec).unwrap(), ["a;b"]);
}

#[test]
fn after_last_and_before_last_split_a_key_built_from_two_columns() {
    let columns = pull(
        r#"
[pull]
Topic = { path = "sync.recordId", before_last = " | " }
"Created On" = { path = "sync.recordId", after_last = " | " }
"#,
    );
    let mut rec = record();
    rec["sync"]["recordId"] = json!("Alpine | Espresso | 11/2/2026 9:15");
    assert_eq!(
        columns.row(&rec).unwrap(),
        ["Alpine | Espresso", "11/2/2026 9:15"]
    );
    rec["sync"]["recordId"] = json!("no separator");
    let err = columns.row(&rec).unwrap_err();
    assert_eq!(err.column, "Topic");
}

#[test]
fn inbound_columns_are_their_own_and_fall_back_to_the_pull_columns() {
    let columns = pull(
        r#"
[pull]
Id = "sync.recordId"

[pull.inbound]
Company = "customerProfile.name"
Left = "sync.daysLeft"
"#,
    );
    assert_eq!(columns.headers(), ["Id"]);
    assert_eq!(columns.inbound().headers(), ["Company", "Left"]);
    let mut rec = record();
    rec["direction"] = json!("Incoming");
    rec["sync"]["daysLeft"] = json!(9);
    assert!(PullColumns::is_inbound(&rec));
    assert!(!PullColumns::is_inbound(&record()));
    assert_eq!(
        columns.inbound().row(&rec).unwrap(),
        ["Alpine Ski House", "9"]
    );
    let plain = pull("[pull]\nId = \"id\"\n");
    assert_eq!(plain.inbound().headers(), ["Id"]);
}

#[test]
fn a_mapping_without_pull_has_none_and_the_standard_columns_cover_the_design() {
    assert!(compile(BASE).pull_columns().is_none());
    let standard = PullColumns::standard();
    let headers = standard.headers();
    for wanted in [
        "externalReferenceId",
        "referralId",
        "engagementId",
        "direction",
        "status",
        "substatus",
        "statusReason",
        "name",
        "dealValue",
        "currency",
        "closingDateTime",
        "microsoftCrmId",
        "connectedStatus",
        "connectedSubstatus",
        "updatedDateTime",
        "changed",
        "customerName",
        "customerCountry",
        "contactFirstName",
        "contactLastName",
        "contactEmail",
        "contactPhone",
        "daysLeft",
        "expirationDateTime",
    ] {
        assert!(headers.iter().any(|h| h == wanted), "{wanted} missing");
    }
    let row = standard.row(&record()).unwrap();
    let cell = |h: &str| row[headers.iter().position(|x| x == h).unwrap()].as_str();
    assert_eq!(cell("externalReferenceId"), "OPP-1");
    assert_eq!(cell("referralId"), "ref-1");
    assert_eq!(cell("dealValue"), "18500");
    assert_eq!(cell("contactEmail"), "cv@example.com");
    assert_eq!(cell("changed"), "status;substatus");
    assert_eq!(cell("daysLeft"), "");
}

/// Load BASE plus a `[pull]` section (its first column on line 11) that must fail, and
/// check each problem's `file:line:col: message` starts as expected, all in one run.
fn assert_problems(section: &str, expected: &[&str]) {
    let d = diagnostics(&format!("{BASE}[pull]\n{section}"));
    let joined = d.join("\n");
    assert_eq!(d.len(), expected.len(), "{joined}");
    for (got, want) in d.iter().zip(expected) {
        assert!(got.starts_with(want), "expected {want:?}, got:\n{joined}");
    }
}

#[test]
fn an_unknown_path_root_is_located_with_a_suggestion() {
    assert_problems(
        "Status = \"stauts\"\n",
        &["bad.toml:11:10: path \"stauts\": a pull record has no `stauts`; did you mean `status`?"],
    );
}

#[test]
fn an_unknown_sync_member_is_located() {
    assert_problems(
        "Left = { path = \"sync.daysleft2\" }\n",
        &["bad.toml:11:17: path \"sync.daysleft2\": `sync` has no `daysleft2`"],
    );
}

#[test]
fn a_map_without_a_key_is_located() {
    assert_problems(
        "Status = { map = { New = \"Open\" } }\nFixed = { value = \"x\", map = { a = \"b\" } }\n",
        &[
            "bad.toml:11:10: pull column \"Status\": a `map` needs a key",
            "bad.toml:12:30: pull column \"Fixed\": a `map` needs a key to look up",
        ],
    );
}

#[test]
fn a_duplicate_header_is_located_at_the_second_one() {
    assert_problems(
        "\"Est. revenue\" = \"details.dealValue\"\n\"est revenue\" = \"details.dealValue\"\n",
        &["bad.toml:12:1: pull: duplicate column \"est revenue\" (first at line 11)"],
    );
    // The exact same header twice is TOML's own error, located too.
    assert_problems(
        "A = \"id\"\nA = \"name\"\n",
        &["bad.toml:12:1: invalid TOML"],
    );
}

#[test]
fn other_pull_problems_are_all_reported_in_one_run() {
    assert_problems(
        concat!(
            "A = { path = \"id\", colour = 1 }\n",
            "B = { path = \"details.closingDateTime\", format = \"%H:%M\" }\n",
            "C = { path = \"status\", map = \"nope\" }\n",
            "D = { path = \"details.currency\", map = \"currency\" }\n",
            "E = { path = \"id\", decimals = 99 }\n",
            "F = { path = \"name[x]\" }\n",
        ),
        &[
            "bad.toml:11:20: pull column \"A\": unknown key `colour`",
            "bad.toml:12:50: pull column \"B\": `format` must be a strftime date format",
            "bad.toml:13:30: pull column \"C\": unknown table `nope`",
            "bad.toml:14:40: pull column \"D\": the built-in `currency` table",
            "bad.toml:15:31: pull column \"E\": `decimals`",
            "bad.toml:16:14: path \"name[x]\"",
        ],
    );
}

#[test]
fn the_mapping_schema_knows_the_pull_section() {
    let schema = referral_sync::mapping::json_schema();
    let pull = &schema["properties"]["pull"];
    assert!(pull["properties"]["inbound"].is_object(), "{pull}");
    let column = &schema["$defs"]["pullColumn"]["oneOf"][2]["properties"];
    let keys: Vec<&String> = column.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 14, "every option of a pull column: {keys:?}");
    assert!(
        column["after_last"].is_object() && column["map"].is_object(),
        "{keys:?}"
    );
}

#[test]
fn a_builtin_table_name_is_refused_even_when_tables_has_one_of_that_name() {
    let d = diagnostics(&format!(
        "{BASE}[tables.currency]\nvalues = {{ USD = \"US Dollar\" }}\n[pull]\nC = {{ path = \"details.currency\", map = \"currency\" }}\n"
    ));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with("bad.toml:13:40: pull column \"C\": the built-in `currency` table"),
        "{d:?}"
    );
}
