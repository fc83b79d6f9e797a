//! The `check`, `preview` and `mapping-schema` commands, run as the binary: every shipped
//! mapping on its sample, the real exports, and the exit codes 0, 1 and 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{root, shared};

pub(super) fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_referral-sync"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Preview and return (exit code, JSON lines, stderr lines).
fn preview(args: &[&str]) -> (i32, Vec<serde_json::Value>, Vec<String>) {
    let mut all = vec!["preview"];
    all.extend(args);
    let out = run(&all);
    let json = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .collect();
    let err = text(&out.stderr).lines().map(str::to_string).collect();
    (out.status.code().unwrap_or(-1), json, err)
}

#[test]
fn dynamics_export_workbook_previews() {
    let (code, json, err) = preview(&[
        "-m",
        "mappings/dynamics365-export.toml",
        "samples/dynamics365-export.xlsx",
    ]);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(
        err.last().map(String::as_str),
        Some("rows: 5, valid: 4, invalid: 0, skipped: 1")
    );
    // Two Shared rows are each followed by their connected Microsoft referral.
    assert_eq!(json.len(), 6);
    assert_eq!(
        json[0]["externalReferenceId"],
        "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b01"
    );
    assert_eq!(json[0]["type"], "Shared");
    assert_eq!(json[1]["target"][0]["id"], "msft");
    assert_eq!(
        json[1]["inviteContext"]["assistanceRequestCode"],
        "ProofOfConceptOrDemo"
    );
    assert_eq!(json[2]["customerProfile"]["address"]["country"], "DE");
    assert_eq!(json[2]["details"]["dealValue"], 48500.5);
    assert_eq!(
        json[2]["details"]["closingDateTime"],
        "2026-12-18T00:00:00Z"
    );
}

#[test]
fn dynamics_csv_sample_previews() {
    let (code, json, err) = preview(&[
        "-m",
        "mappings/dynamics365-csv.toml",
        "--lookup",
        "account=samples/dynamics365/Account.csv",
        "samples/dynamics365/Opportunity.csv",
    ]);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(json.len(), 4);
    assert_eq!(
        json[0]["externalReferenceId"],
        "Alpine Ski House | Espresso machines for the lodge | 11/2/2026 9:15"
    );
    assert_eq!(json[0]["customerProfile"]["address"]["city"], "Dallas");
    assert_eq!(json[2]["status"], "Closed");
    assert_eq!(json[2]["substatus"], "Won");
    assert_eq!(json[3]["details"]["currency"], "CAD");
    assert_eq!(
        json[3]["details"]["closingDateTime"],
        "2026-08-31T00:00:00Z"
    );
}

#[test]
fn dataverse_pages_preview() {
    let (code, json, err) = preview(&["-m", "mappings/dataverse-json.toml", "samples/dataverse"]);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(
        err.last().map(String::as_str),
        Some("rows: 5, valid: 3, invalid: 0, skipped: 2")
    );
    let ids: Vec<&str> = json
        .iter()
        .filter_map(|j| j["externalReferenceId"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "5b1c0c3e-0001-ee11-8179-000d3a8f0001",
            "5b1c0c3e-0002-ee11-8179-000d3a8f0002",
            "5b1c0c3e-0004-ee11-8179-000d3a8f0004"
        ]
    );
    assert_eq!(json[1]["details"]["currency"], "EUR");
    assert_eq!(json[2]["customerProfile"]["address"]["country"], "GB");
    assert!(json[2]["customerProfile"].get("team").is_none());
}

#[test]
fn salesforce_sample_previews() {
    let (code, json, err) = preview(&[
        "-m",
        "mappings/salesforce-opportunity.toml",
        "--lookup",
        "account=samples/salesforce/Account.csv",
        "samples/salesforce/Opportunity.csv",
    ]);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(json.len(), 4);
    let status: Vec<(&str, &str)> = json
        .iter()
        .map(|j| {
            (
                j["status"].as_str().unwrap_or(""),
                j["substatus"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("New", "Pending"),
            ("New", "Pending"),
            ("Closed", "Won"),
            ("Closed", "Lost")
        ]
    );
    assert_eq!(json[1]["customerProfile"]["address"]["country"], "GB");
    assert_eq!(json[2]["customerProfile"]["address"]["country"], "DE");
}

#[test]
fn template_previews_its_sample() {
    let (code, json, err) = preview(&[
        "-m",
        "mappings/template.toml",
        "samples/template/opportunities.csv",
    ]);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(
        err.last().map(String::as_str),
        Some("rows: 4, valid: 3, invalid: 0, skipped: 1")
    );
    assert_eq!(json.len(), 4);
    assert_eq!(
        json[0]["details"]["closingDateTime"],
        "2027-03-31T15:00:00Z"
    );
    assert_eq!(json[3]["customerProfile"]["address"]["country"], "AT");
}

#[test]
fn limit_stops_early() {
    let (code, json, err) = preview(&[
        "-m",
        "mappings/dataverse-json.toml",
        "samples/dataverse",
        "--limit",
        "2",
    ]);
    assert_eq!(code, 0);
    assert_eq!(json.len(), 2);
    assert_eq!(
        err.last().map(String::as_str),
        Some("rows: 2, valid: 2, invalid: 0, skipped: 0")
    );
}

#[test]
fn invalid_rows_exit_1_and_name_input_row_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(
        &input,
        "Id,Name,Customer,Amount\n1,A,C,10\n2,B,C,ten\n3,,C,\n",
    )
    .unwrap();
    let mapping = dir.path().join("m.toml");
    let text = format!("{}details.dealValue = \"Amount\"\n", super::BASE);
    std::fs::write(
        &mapping,
        text.replace(
            "name = \"Name\"",
            "name = { column = \"Name\", required = true }",
        ),
    )
    .unwrap();
    let (code, json, err) = preview(&["-m", mapping.to_str().unwrap(), input.to_str().unwrap()]);
    assert_eq!(code, 1, "{err:?}");
    assert_eq!(json.len(), 1);
    let input = input.display();
    assert_eq!(
        err,
        [
            format!(
                "{input}:row 3: details.dealValue: expected a decimal number, got \"ten\" (column \"Amount\")"
            ),
            format!("{input}:row 4: name: required, but \"Name\" is empty (column \"Name\")"),
            "rows: 3, valid: 1, invalid: 2, skipped: 0".to_string(),
        ]
    );
}

#[test]
fn toml_syntax_error_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("broken.toml");
    std::fs::write(&mapping, "external_id = \"Id\"\n[fields]\nname = \"Name\n").unwrap();
    for cmd in [vec!["check", "-m"], vec!["preview", "-m"]] {
        let mut args = cmd.clone();
        args.push(mapping.to_str().unwrap());
        if cmd[0] == "preview" {
            args.push("samples/salesforce/Opportunity.csv");
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{}:3:", mapping.display())), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn check_prints_ok_or_every_diagnostic() {
    let out = run(&[
        "check",
        "-m",
        "mappings/dataverse-json.toml",
        "samples/dataverse/page1.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("ok: "));

    let out = run(&["check", "-m", "mappings/dynamics365-export.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("typos.toml");
    std::fs::write(
        &mapping,
        "external_id = \"Id\"\n[fields]\nnme = \"Name\"\ndetails.dealvalue = { colum = \"X\" }\n",
    )
    .unwrap();
    let out = run(&["check", "-m", mapping.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let m = mapping.display();
    assert!(
        err.contains(&format!(
            "{m}:3:1: unknown target `nme`; did you mean `name`?"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{m}:4:23: details.dealValue: unknown key `colum`; did you mean `column`?"
        )),
        "{err}"
    );
}

#[test]
fn check_against_an_input_reports_missing_columns() {
    let out = run(&[
        "check",
        "-m",
        "mappings/dynamics365-export.toml",
        "samples/salesforce/Opportunity.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("column \"Dynamics Record Id\" is not in samples/salesforce/Opportunity.csv"),
        "{err}"
    );
    assert!(err.contains("column \"Topic\" is not in"), "{err}");
}

#[test]
fn mapping_schema_is_a_2020_12_json_schema() {
    let out = run(&["mapping-schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(
        schema["required"],
        serde_json::json!(["external_id", "fields"])
    );
    assert!(schema["properties"]["fields"]["properties"]["customerProfile"].is_object());
}

fn real(shared: &Path, name: &str) -> PathBuf {
    shared.join("data/real-exports").join(name)
}

#[test]
fn real_dynamics_export_previews_with_only_genuine_collisions() {
    let Some(shared) = shared() else { return };
    let lookup = format!(
        "account={}",
        real(&shared, "d365-demo-generator_Account.csv").display()
    );
    let input = real(&shared, "d365-demo-generator_Opportunity.csv");
    let (code, json, err) = preview(&[
        "-m",
        "mappings/dynamics365-csv.toml",
        "--lookup",
        &lookup,
        input.to_str().unwrap(),
    ]);
    // Three pairs of opportunities share Topic and Created On: the export cannot tell them
    // apart by stable columns, so the later one of each pair is refused (never a duplicate).
    assert_eq!(code, 1);
    assert_eq!(
        err.last().map(String::as_str),
        Some("rows: 5229, valid: 5226, invalid: 3, skipped: 0")
    );
    let rows: Vec<&str> = err
        .iter()
        .filter_map(|l| l.split(":row ").nth(1))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert_eq!(rows, ["1109", "2770", "3363"]);
    assert!(
        err.iter()
            .take(3)
            .all(|l| l.contains("already used by an earlier row"))
    );
    assert_eq!(json.len(), 5226);
    assert!(
        json.iter()
            .all(|j| j["customerProfile"]["address"]["city"].is_string())
    );
}

#[test]
fn real_salesforce_export_previews_cleanly() {
    let Some(shared) = shared() else { return };
    let lookup = format!(
        "account={}",
        real(&shared, "sfdc-data-cloud-workshop_Account.csv").display()
    );
    let input = real(&shared, "sfdc-data-cloud-workshop_Opportunity.csv");
    let (code, json, err) = preview(&[
        "-m",
        "mappings/salesforce-opportunity.toml",
        "--lookup",
        &lookup,
        input.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(
        err.last().map(String::as_str),
        Some("rows: 50, valid: 50, invalid: 0, skipped: 0")
    );
    let won = json.iter().filter(|j| j["substatus"] == "Won").count();
    let lost = json.iter().filter(|j| j["substatus"] == "Lost").count();
    assert_eq!((won, lost), (12, 3));
    assert!(
        json.iter()
            .all(|j| j["customerProfile"]["address"]["country"] == "US")
    );
}

#[test]
fn a_malformed_lookup_option_is_a_usage_error() {
    let out = run(&[
        "check",
        "-m",
        "mappings/dataverse-json.toml",
        "--lookup",
        "account",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("expected NAME=PATH"),
        "{}",
        text(&out.stderr)
    );
}
