//! Load-time validation: every problem of a mapping file, located, in one run.

use std::path::Path;

use referral_sync::mapping::Mapping;
use referral_sync::source::Headers;

use super::{BASE, compile, diagnostics};

#[test]
fn several_typos_give_several_located_messages() {
    let text = r#"external_id = "Id"
colour = "red"
[fields]
name = { colum = "Name" }
customerProfile.adress.city = "City"
details.dealValue = { column = "Amount", type = "decimel" }
status = { column = "Stage", map = "stauts" }
"#;
    let got = diagnostics(text);
    let expected = [
        "bad.toml:2:1: mapping: unknown key `colour`",
        "bad.toml:4:10: name: unknown key `colum`; did you mean `column`?",
        "bad.toml:4:8: name: needs one of `column`, `value` or `template`",
        "bad.toml:5:17: unknown target `customerProfile.adress`; did you mean `customerProfile.address`?",
        "bad.toml:6:49: details.dealValue: unknown type `decimel`; did you mean `decimal`? (one of string, decimal, integer, bool, date, datetime)",
        "bad.toml:7:36: status: unknown table `stauts`",
    ];
    for e in expected {
        assert!(got.iter().any(|g| g == e), "missing {e:?} in {got:#?}");
    }
    assert_eq!(got.len(), expected.len(), "{got:#?}");
}

#[test]
fn toml_syntax_error_names_file_line_and_column() {
    let got = diagnostics("external_id = \"Id\"\n[fields\nname = \"Name\"\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("bad.toml:2:"), "{got:?}");
    assert!(got[0].contains("invalid TOML"), "{got:?}");
}

#[test]
fn external_id_is_required() {
    let got = diagnostics("[fields]\nname = \"Name\"\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("`external_id` is required"), "{got:?}");
}

#[test]
fn duplicate_targets_are_reported_with_the_first_line() {
    let text = "external_id = \"Id\"\n[fields]\nname = \"A\"\n\"NAME\" = \"B\"\ndetails.notes = \"N\"\n\"details.notes\" = \"M\"\n";
    let got = diagnostics(text);
    assert_eq!(
        got,
        [
            "bad.toml:4:1: duplicate target `name` (first set at line 3)",
            "bad.toml:6:1: duplicate target `details.notes` (first set at line 5)",
        ]
    );
}

#[test]
fn external_reference_id_is_set_only_by_external_id() {
    let got = diagnostics("external_id = \"Id\"\n[fields]\nexternalReferenceId = \"X\"\n");
    assert_eq!(
        got,
        ["bad.toml:3:1: set externalReferenceId with the top-level `external_id`"]
    );
}

#[test]
fn value_map_outputs_must_be_valid_enum_values() {
    let text = r#"external_id = "Id"
[tables.stage]
values = { Open = "Neu", Won = "Closed" }
[fields]
status = { column = "Stage", map = "stage" }
substatus = { column = "Stage", map = { Open = "Pending", Won = "Wonn" } }
customerProfile.size = { value = "tiny" }
details.requirements.products = { column = "P", split = ";", map = { az = "Azur" } }
"#;
    let got = diagnostics(text);
    assert_eq!(got.len(), 4, "{got:#?}");
    assert!(
        got[0].starts_with(
            "bad.toml:5:36: status: \"Neu\" is not a valid value; did you mean `New`?"
        ),
        "{got:#?}"
    );
    assert!(
        got[1].starts_with(
            "bad.toml:6:39: substatus: \"Wonn\" is not a valid value; did you mean `Won`?"
        ),
        "{got:#?}"
    );
    assert!(
        got[2].starts_with("bad.toml:7:34: customerProfile.size: \"tiny\" is not a valid value"),
        "{got:#?}"
    );
    assert!(
        got[3].contains(
            "details.requirements.products: \"Azur\" is not a valid value; did you mean `Azure`?"
        ),
        "{got:#?}"
    );
}

#[test]
fn bad_options_are_each_reported() {
    let text = r#"external_id = "Id"
[fields]
name = { column = "A", template = "{B}" }
details.notes = { column = "N", split = ";" }
details.closingDateTime = { column = "D", type = "datetime", timezone = "Mars/Olympus" }
details.dealValue = { column = "V", required = "yes" }
statusReason = { template = "{Open" }
customerProfile.name = { column = "C", lookup = "acounts" }
"#;
    let got = diagnostics(text);
    let wanted = [
        "bad.toml:3:8: name: has both `column` and `template`; give only one",
        "bad.toml:4:41: details.notes: `split` only applies to array targets",
        "bad.toml:5:73: unknown time zone \"Mars/Olympus\"",
        "bad.toml:6:48: details.dealValue: `required` must be true or false",
        "bad.toml:7:29: template \"{Open\": empty or unclosed `{…}`",
        "bad.toml:8:49: unknown lookup `acounts`",
    ];
    for w in wanted {
        assert!(got.iter().any(|g| g == w), "missing {w:?} in {got:#?}");
    }
}

#[test]
fn lookup_problems_are_located() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acc.csv"),
        "Account Name,City\nContoso,Redmond\n",
    )
    .unwrap();
    let text = r#"external_id = "Id"
[lookups.acc]
file = "acc.csv"
key = "Acount Name"
on = "Customer"
[lookups.missing]
file = "nope.csv"
key = "K"
on = "Customer"
[fields]
name = "Name"
customerProfile.name = { lookup = "missing", column = "Name" }
"#;
    let path = dir.path().join("m.toml");
    let got: Vec<String> = match Mapping::from_str(&path, text, &[]) {
        Ok(_) => panic!("loaded"),
        Err(d) => {
            d.0.iter()
                .map(|d| format!("{}:{}: {}", d.line, d.col, d.message))
                .collect()
        }
    };
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got[0].starts_with("4:7: lookup `acc`: no column \"Acount Name\""),
        "{got:#?}"
    );
    assert!(got[0].ends_with("did you mean `Account Name`?"), "{got:#?}");
    assert!(got[1].starts_with("7:8: lookup `missing`:"), "{got:#?}");
    assert!(got[1].contains("nope.csv"), "{got:#?}");
    assert!(
        got[1].ends_with("(or give the file with --lookup missing=PATH)"),
        "{got:#?}"
    );
}

#[test]
fn columns_are_checked_against_a_header_with_suggestions() {
    let mapping = compile(&format!("{BASE}\ndetails.notes = \"Descripton\"\n"));
    let headers = Headers::new(vec!["Id".into(), "Name".into(), "Description".into()]);
    let got = mapping.check_columns(&headers, Path::new("in.csv"));
    let lines: Vec<String> = got.0.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "test.toml:6:24: column \"Customer\" is not in in.csv",
            "test.toml:11:17: column \"Descripton\" is not in in.csv; did you mean \"Description\"?",
        ]
    );
}

#[test]
fn column_names_match_ignoring_case_and_punctuation() {
    let mapping = compile(&format!("{BASE}\ndetails.dealValue = \"Est. Revenue\"\n"));
    let headers = Headers::new(
        ["id", "NAME", "customer", "est revenue"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    assert!(
        mapping
            .check_columns(&headers, Path::new("in.csv"))
            .is_empty()
    );
}

#[test]
fn every_shipped_mapping_loads() {
    let dir = super::root().join("mappings");
    let samples = super::root().join("samples");
    let overrides = [(
        "account".to_string(),
        samples.join("dynamics365/Account.csv"),
    )];
    for name in [
        "dynamics365-export",
        "dynamics365-csv",
        "dataverse-json",
        "template",
    ] {
        let path = dir.join(format!("{name}.toml"));
        if let Err(d) = Mapping::load_with_lookups(&path, &overrides) {
            panic!("{name}: {d}");
        }
    }
    let sf = [(
        "account".to_string(),
        samples.join("salesforce/Account.csv"),
    )];
    if let Err(d) = Mapping::load_with_lookups(&dir.join("salesforce-opportunity.toml"), &sf) {
        panic!("salesforce: {d}");
    }
}

#[test]
fn unreadable_mapping_file_is_a_diagnostic() {
    let err = Mapping::load(Path::new("/nonexistent/m.toml")).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/m.toml:1:1: cannot read the mapping file")
    );
}

#[test]
fn only_version_1_is_known() {
    let got = diagnostics("version = 2\nexternal_id = \"Id\"\n[fields]\nname = \"Name\"\n");
    assert_eq!(got, ["bad.toml:1:11: `version` must be 1"]);
}

#[test]
fn fields_of_a_null_expansion_are_not_missing_columns() {
    let mapping = compile(&format!(
        "{BASE}\ncustomerProfile.team = [{{ email = \"parentcontactid.emailaddress1\" }}]\n"
    ));
    let headers = Headers::new(
        ["Id", "Name", "Customer", "parentcontactid"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    assert!(
        mapping
            .check_columns(&headers, Path::new("page.json"))
            .is_empty()
    );
}
