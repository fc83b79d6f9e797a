//! Every feature of the mapping language, applied to in-memory rows.

use jiff::civil::date;
use referral_sync::mapping::RowOutcome;
use referral_sync::source::Cell;
use serde_json::json;

use super::{BASE, compile, compile_at, failed, map, mapped, row, typed_row};

const H: &[&str] = &["Id", "Name", "Customer"];

fn with(extra: &str) -> referral_sync::mapping::Mapping {
    compile(&format!("{BASE}{extra}"))
}

#[test]
fn columns_literals_and_templates() {
    let m = with("statusReason = { template = \"{Name} ({{draft}}) for {Customer}\" }\n");
    let r = mapped(&m, &row(H, &["7", "Deal", "Contoso"]));
    assert_eq!(r.external_id, "7");
    assert_eq!(
        r.referral,
        json!({
            "externalReferenceId": "7",
            "name": "Deal",
            "type": "Independent",
            "statusReason": "Deal ({draft}) for Contoso",
            "customerProfile": { "name": "Contoso", "address": { "country": "US" } },
            "consent": { "consentToContact": true },
            "details": { "currency": "USD" }
        })
    );
}

#[test]
fn key_order_is_fixed_whatever_the_mapping_order() {
    let a = compile(BASE);
    let reordered = r#"
[fields]
details.currency = { value = "USD" }
consent.consentToContact = true
customerProfile.address.country = { value = "US" }
customerProfile.name = "Customer"
type = { value = "Independent" }
name = "Name"
"#;
    let b = compile(&format!("external_id = \"Id\"\n{reordered}"));
    let r = row(H, &["7", "Deal", "Contoso"]);
    let ja = serde_json::to_string(&mapped(&a, &r).referral).unwrap();
    let jb = serde_json::to_string(&mapped(&b, &r).referral).unwrap();
    assert_eq!(ja, jb);
    assert_eq!(ja, serde_json::to_string(&mapped(&a, &r).referral).unwrap());
}

#[test]
fn typed_conversions() {
    let m = with(
        r#"details.dealValue = { column = "Amount", decimal_comma = true }
details.closingDateTime = { column = "Close", type = "datetime", format = ["%d.%m.%Y %H:%M", "%Y-%m-%d"], timezone = "Europe/Paris" }
details.customerRequestedContact = { column = "Flag", true = ["oui"], false = ["non"] }
"#,
    );
    let h = ["Id", "Name", "Customer", "Amount", "Close", "Flag"];
    let r = mapped(
        &m,
        &row(
            &h,
            &["1", "N", "C", "€ 1.234,50", "01.07.2026 14:30", "OUI"],
        ),
    );
    assert_eq!(r.referral["details"]["dealValue"], json!(1234.5));
    assert_eq!(
        r.referral["details"]["closingDateTime"],
        json!("2026-07-01T12:30:00Z")
    );
    assert_eq!(
        r.referral["details"]["customerRequestedContact"],
        json!(true)
    );
    let r = mapped(&m, &row(&h, &["1", "N", "C", "12", "2026-01-05", "non"]));
    assert_eq!(r.referral["details"]["dealValue"], json!(12));
    assert_eq!(
        r.referral["details"]["closingDateTime"],
        json!("2026-01-04T23:00:00Z")
    );
    assert_eq!(
        r.referral["details"]["customerRequestedContact"],
        json!(false)
    );
}

#[test]
fn typed_cells_from_workbooks() {
    let m = with(
        r#"details.dealValue = "Amount"
details.closingDateTime = { column = "Close", type = "date" }
details.customerRequestedContact = "Flag"
statusReason = { template = "{Amount} / {Close}" }
"#,
    );
    let h = ["Id", "Name", "Customer", "Amount", "Close", "Flag"];
    let cells = vec![
        Cell::Int(42),
        Cell::String("N".into()),
        Cell::String("C".into()),
        Cell::Float(13400.0),
        Cell::DateTime(date(2026, 3, 1).at(23, 59, 0, 0)),
        Cell::Bool(true),
    ];
    let r = mapped(&m, &typed_row(&h, cells));
    assert_eq!(r.external_id, "42");
    assert_eq!(r.referral["details"]["dealValue"], json!(13400));
    assert_eq!(
        r.referral["details"]["closingDateTime"],
        json!("2026-03-01T00:00:00Z")
    );
    assert_eq!(
        r.referral["details"]["customerRequestedContact"],
        json!(true)
    );
    assert_eq!(
        r.referral["statusReason"],
        json!("13400 / 2026-03-01T23:59:00")
    );
}

#[test]
fn a_failing_row_lists_every_failing_field_with_its_column() {
    let m = with(
        r#"details.dealValue = "Amount"
details.closingDateTime = { column = "Close", type = "date", format = "%m/%d/%Y" }
status = { column = "Stage", map = { Open = "New" } }
"#,
    );
    let h = ["Id", "Name", "Customer", "Amount", "Close", "Stage"];
    let f = failed(
        &m,
        &row(&h, &["1", "N", "C", "12abc", "31/12/2026", "Lost"]),
    );
    let lines: Vec<String> = f.to_string().lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "input.csv:row 2: status: \"Lost\" is not in table `inline` and the table has no default (column \"Stage\")",
            "input.csv:row 2: details.dealValue: expected a decimal number, got \"12abc\" (column \"Amount\")",
            "input.csv:row 2: details.closingDateTime: expected a date like %m/%d/%Y, got \"31/12/2026\" (column \"Close\")",
        ]
    );
}

#[test]
fn error_cells_are_row_errors() {
    let m = with("details.notes = \"Notes\"\n");
    let h = ["Id", "Name", "Customer", "Notes"];
    let cells = vec![
        Cell::String("1".into()),
        Cell::String("N".into()),
        Cell::String("C".into()),
        Cell::Error("#N/A".into()),
    ];
    let f = failed(&m, &typed_row(&h, cells));
    assert_eq!(f.problems.len(), 1);
    assert_eq!(f.problems[0].path, "details.notes");
    assert!(f.problems[0].message.contains("#N/A"));
}

#[test]
fn value_maps_named_inline_with_defaults_and_omission() {
    let m = compile(&format!(
        "{BASE}status = {{ column = \"Stage\", map = \"st\" }}\nsubstatus = {{ column = \"Stage\", map = {{ open = \"Pending\" }}, map_default = \"Accepted\" }}\n[tables.st]\nvalues = {{ Open = \"New\", Won = \"Closed\", Skip = \"\" }}\ndefault = \"Active\"\n"
    ));
    let h = ["Id", "Name", "Customer", "Stage"];
    let r = mapped(&m, &row(&h, &["1", "N", "C", " OPEN "]));
    assert_eq!(
        (
            r.referral["status"].as_str(),
            r.referral["substatus"].as_str()
        ),
        (Some("New"), Some("Pending"))
    );
    let r = mapped(&m, &row(&h, &["2", "N", "C", "Other"]));
    assert_eq!(
        (
            r.referral["status"].as_str(),
            r.referral["substatus"].as_str()
        ),
        (Some("Active"), Some("Accepted"))
    );
    // An empty output leaves status out; the model then refuses substatus on its own.
    let f = failed(&m, &row(&h, &["3", "N", "C", "skip"]));
    assert_eq!(f.problems.len(), 1, "{f}");
    assert_eq!(f.problems[0].path, "substatus");
    assert!(f.problems[0].message.contains("got status \"None\""), "{f}");
}

#[test]
fn builtin_country_and_currency_tables() {
    let m = compile(
        r#"external_id = "Id"
[fields]
name = "Name"
type = { value = "Independent" }
customerProfile.name = "Customer"
customerProfile.address.country = { column = "Country", map = "country" }
consent.consentToContact = true
details.currency = { column = "Currency", map = "currency" }
"#,
    );
    let h = ["Id", "Name", "Customer", "Country", "Currency"];
    for (country, code) in [
        ("United States", "US"),
        ("Deutschland", "DE"),
        ("GBR", "GB"),
        ("fr", "FR"),
    ] {
        let r = mapped(&m, &row(&h, &["1", "N", "C", country, "US Dollar"]));
        assert_eq!(
            r.referral["customerProfile"]["address"]["country"],
            json!(code)
        );
        assert_eq!(r.referral["details"]["currency"], json!("USD"));
    }
    let f = failed(&m, &row(&h, &["1", "N", "C", "Atlantis", "Euro"]));
    assert_eq!(f.problems[0].path, "customerProfile.address.country");
    assert!(
        f.problems[0]
            .message
            .contains("\"Atlantis\" is not in table `country`")
    );
}

#[test]
fn defaults_and_required_fields() {
    let m = with(
        "details.notes = { column = \"Notes\", default = \"none\" }\nstatusReason = { column = \"Reason\", required = true }\n",
    );
    let h = ["Id", "Name", "Customer", "Notes", "Reason"];
    let r = mapped(&m, &row(&h, &["1", "N", "C", "", "why"]));
    assert_eq!(r.referral["details"]["notes"], json!("none"));
    let f = failed(&m, &row(&h, &["", "N", "C", "x", " "]));
    let paths: Vec<&str> = f.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["externalReferenceId", "statusReason"]);
    assert_eq!(f.problems[1].message, "required, but \"Reason\" is empty");
}

#[test]
fn referral_validation_failures_point_at_their_column() {
    let m = with("customerProfile.team = [{ email = \"Email\" }]\n");
    let h = ["Id", "Name", "Customer", "Email"];
    let f = failed(&m, &row(&h, &["1", "N", "C", "not-an-email"]));
    assert_eq!(f.problems.len(), 1, "{f}");
    assert_eq!(f.problems[0].path, "customerProfile.team[0].email");
    assert_eq!(f.problems[0].column.as_deref(), Some("Email"));
}

#[test]
fn filters_skip_rows_with_a_reason() {
    let m = compile(&format!(
        "{BASE}[[filter]]\ncolumn = \"Sync\"\nequals = \"Yes\"\n[[filter]]\ncolumn = \"State\"\nnot_in = [\"Won\", \"Lost\"]\n[[filter]]\ncolumn = \"Name\"\nnot_empty = true\n"
    ));
    let h = ["Id", "Name", "Customer", "Sync", "State"];
    assert!(matches!(
        map(&m, &row(&h, &["1", "N", "C", "yes", "Open"])),
        RowOutcome::Mapped(_)
    ));
    let reason = |values: &[&str]| match map(&m, &row(&h, values)) {
        RowOutcome::Skipped { reason, row, .. } => {
            assert_eq!(row, 2);
            reason
        }
        other => panic!("not skipped: {other:?}"),
    };
    assert_eq!(
        reason(&["1", "N", "C", "No", "Open"]),
        "Sync is \"No\", not \"Yes\""
    );
    assert_eq!(reason(&["1", "N", "C", "Yes", "won"]), "State is \"won\"");
    assert_eq!(reason(&["1", "", "C", "Yes", "Open"]), "Name is empty");
}

#[test]
fn arrays_from_column_groups_and_delimited_cells() {
    let m = with(
        r#"[[fields.customerProfile.team]]
firstName = "C1 First"
email = "C1 Email"
[[fields.customerProfile.team]]
firstName = "C2 First"
email = "C2 Email"
[fields.details.requirements]
products = { column = "Products", split = ";", map = { az = "Azure", m365 = "Microsoft365" } }
solutions = { column = "Solutions", split = ",", item = { type = "Category" } }
"#,
    );
    let h = [
        "Id",
        "Name",
        "Customer",
        "C1 First",
        "C1 Email",
        "C2 First",
        "C2 Email",
        "Products",
        "Solutions",
    ];
    let r = mapped(
        &m,
        &row(
            &h,
            &[
                "1",
                "N",
                "C",
                "Ann",
                "ann@x.example",
                "",
                "",
                "az; M365 ;",
                "BigData,DevOps",
            ],
        ),
    );
    assert_eq!(
        r.referral["customerProfile"]["team"],
        json!([{ "firstName": "Ann", "email": "ann@x.example" }])
    );
    assert_eq!(
        r.referral["details"]["requirements"]["products"],
        json!([{ "id": "Azure" }, { "id": "Microsoft365" }])
    );
    assert_eq!(
        r.referral["details"]["requirements"]["solutions"],
        json!([{ "id": "BigData", "type": "Category" }, { "id": "DevOps", "type": "Category" }])
    );
    let r = mapped(&m, &row(&h, &["1", "N", "C", "", "", "", "", "", ""]));
    assert!(r.referral["customerProfile"].get("team").is_none());
    assert!(r.referral["details"].get("requirements").is_none());
}

#[test]
fn lookups_enrich_rows_and_fail_on_no_or_two_matches() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("accounts.csv"),
        "Account Name,City,Country\nContoso,Redmond,United States\nFabrikam,Berlin,Deutschland\nTwin,A,US\nTwin,B,US\n",
    )
    .unwrap();
    let text = r#"external_id = "Id"
[lookups.acc]
file = "accounts.csv"
key = "Account Name"
on = "Customer"
[fields]
name = "Name"
type = { value = "Independent" }
customerProfile.name = "Customer"
customerProfile.address.city = { lookup = "acc", column = "City", default = "" }
customerProfile.address.country = { lookup = "acc", column = "Country", map = "country" }
consent.consentToContact = true
details.currency = { value = "USD" }
"#;
    let m = compile_at(&dir.path().join("m.toml"), text);
    let r = mapped(&m, &row(H, &["1", "N", " fabrikam "]));
    assert_eq!(
        r.referral["customerProfile"]["address"],
        json!({ "city": "Berlin", "country": "DE" })
    );
    let f = failed(&m, &row(H, &["2", "N", "Nobody"]));
    assert_eq!(f.problems.len(), 1, "{f}");
    assert_eq!(f.problems[0].path, "customerProfile.address.country");
    assert!(f.problems[0].message.contains("no row of"), "{f}");
    let f = failed(&m, &row(H, &["3", "N", "Twin"]));
    assert!(f.problems[0].message.contains("2 rows of"), "{f}");
}

#[test]
fn shared_referrals_carry_a_connected_microsoft_referral() {
    let m = compile(
        r#"external_id = "Id"
[fields]
name = "Name"
type = { column = "Help", map = {}, map_default = "Shared", default = "Independent" }
target = { column = "Solution", split = ";", item = { type = "SolutionProfile" } }
customerProfile.name = "Customer"
customerProfile.address.country = { value = "US" }
consent.consentToContact = true
details.currency = { value = "USD" }
inviteContext.notes = "Partner notes"
[connected]
inviteContext.notes = "Help notes"
inviteContext.assistanceRequestCode = { column = "Help", map = { poc = "ProofOfConceptOrDemo" } }
"#,
    );
    let h = [
        "Id",
        "Name",
        "Customer",
        "Help",
        "Solution",
        "Partner notes",
        "Help notes",
    ];
    let r = mapped(
        &m,
        &row(
            &h,
            &["1", "N", "C", "POC", "SOL-ABC-DEF", "ours", "please help"],
        ),
    );
    assert_eq!(r.referral["type"], json!("Shared"));
    assert_eq!(
        r.referral["target"],
        json!([{ "id": "SOL-ABC-DEF", "type": "SolutionProfile" }])
    );
    assert_eq!(r.referral["inviteContext"], json!({ "notes": "ours" }));
    let connected = r.connected.expect("a connected referral");
    assert!(connected.get("externalReferenceId").is_none());
    assert!(connected.get("engagementId").is_none());
    assert_eq!(connected["type"], json!("Shared"));
    assert_eq!(
        connected["target"],
        json!([{ "type": "BusinessProfileLocation", "id": "msft" }])
    );
    assert_eq!(
        connected["inviteContext"],
        json!({ "notes": "please help", "assistanceRequestCode": "ProofOfConceptOrDemo" })
    );
    assert_eq!(connected["customerProfile"], r.referral["customerProfile"]);

    let r = mapped(&m, &row(&h, &["2", "N", "C", "", "", "", ""]));
    assert_eq!(r.referral["type"], json!("Independent"));
    assert!(r.connected.is_none());

    let f = failed(&m, &row(&h, &["3", "N", "C", "unsure", "SOL-1", "", ""]));
    assert_eq!(f.problems[0].path, "inviteContext.assistanceRequestCode");
}

#[test]
fn duplicate_external_ids_fail_the_later_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "Id,Name,Customer\n1,A,C\n2,B,C\n1,C,C\n").unwrap();
    let m = compile(BASE);
    let outcomes: Vec<RowOutcome> =
        referral_sync::mapping::records(&m, &[input], &Default::default())
            .unwrap()
            .collect();
    assert_eq!(outcomes.len(), 3);
    assert!(matches!(outcomes[0], RowOutcome::Mapped(_)));
    assert!(matches!(outcomes[1], RowOutcome::Mapped(_)));
    match &outcomes[2] {
        RowOutcome::Invalid(f) => {
            assert_eq!(f.row, 4);
            assert_eq!(f.problems[0].path, "externalReferenceId");
            assert!(f.problems[0].message.contains("already used"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn records_checks_columns_before_any_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "Id,Nme,Customer\n1,A,C\n").unwrap();
    let m = compile(BASE);
    let err = match referral_sync::mapping::records(&m, &[input], &Default::default()) {
        Ok(_) => panic!("no error"),
        Err(e) => e,
    };
    assert_eq!(err.exit(), referral_sync::Exit::Usage);
    assert!(
        err.to_string().contains("column \"Name\" is not in"),
        "{err}"
    );
    assert!(err.to_string().contains("did you mean \"Nme\"?"), "{err}");
}

#[test]
fn filters_can_name_their_own_reason() {
    let m = with(
        "[[filter]]\ncolumn = \"Sync\"\nequals = \"Yes\"\nreason = \"not marked for Partner Center\"\n",
    );
    let h = ["Id", "Name", "Customer", "Sync"];
    match map(&m, &row(&h, &["1", "N", "C", ""])) {
        RowOutcome::Skipped { reason, .. } => assert_eq!(reason, "not marked for Partner Center"),
        other => panic!("not skipped: {other:?}"),
    }
}

#[test]
fn integers_accept_grouping_and_reject_fractions() {
    let m = with("salesStage = { column = \"Stage\", type = \"integer\" }\n");
    let h = ["Id", "Name", "Customer", "Stage"];
    assert_eq!(
        mapped(&m, &row(&h, &["1", "N", "C", "1,000"])).referral["salesStage"],
        json!(1000)
    );
    let f = failed(&m, &row(&h, &["1", "N", "C", "2.5"]));
    assert_eq!(f.problems[0].message, "expected an integer, got \"2.5\"");
}
