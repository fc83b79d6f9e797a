//! The co-sell fields of the current create contract (`partnerRole`, `solutionArea`,
//! `solutionPlay`, `customerMarketplaceIntent` and the marketplace intent as an
//! additional-requirements attribute): where preview puts them, the load warning for a value
//! outside the fiscal year's table (`referral::sales_taxonomy`), and an upload that the
//! sandbox stores and echoes on GET.

use std::path::{Path, PathBuf};

use referral_sync::referral::sales_taxonomy::VERSION;
use serde_json::{Value, json};

use super::cli::{run, text};
use crate::common::api::Peer;
use crate::common::sandbox::TestResult;
use crate::common::upload::{TOKEN, Workspace, bare_command};

/// A valid mapping with the co-sell fields; `intent` is the literal written to
/// `customerMarketplaceIntent` (line 13, column 39: the value).
fn mapping_text(intent: &str) -> String {
    format!(
        r#"external_id = "Id"
[fields]
name = "Name"
type = {{ value = "Independent" }}
customerProfile.name = "Customer"
customerProfile.address.country = {{ value = "US" }}
consent.consentToContact = true
details.currency = {{ value = "USD" }}
partnerRole = "Role"
solutionArea = "Area"
solutionPlay = {{ column = "Play", map = {{ "copilot" = "Copilot at work" }}, default = "Other" }}
details.requirements.additionalRequirements.attributes = {{ column = "Intent", split = ";", item = {{ type = "CustomerMarketplaceIntent" }} }}
customerMarketplaceIntent = {{ value = "{intent}" }}
"#
    )
}

/// The header and one row for [`mapping_text`].
const INPUT: &str = "Id,Name,Customer,Role,Area,Play,Intent\n\
                     CS-1,Deal,Contoso,Services partner,AI Business Solutions,copilot,HaveNotDecided\n";

/// Write the mapping (with `intent`) and the input into `dir`.
fn files(dir: &Path, intent: &str) -> (PathBuf, PathBuf) {
    let mapping = dir.join("cosell.toml");
    std::fs::write(&mapping, mapping_text(intent)).unwrap();
    let input = dir.join("cosell.csv");
    std::fs::write(&input, INPUT).unwrap();
    (mapping, input)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// What the row carries, at the paths of the create contract.
fn expected() -> [(&'static str, Value); 5] {
    [
        ("/partnerRole", json!("Services partner")),
        ("/solutionArea", json!("AI Business Solutions")),
        ("/solutionPlay", json!("Copilot at work")),
        ("/customerMarketplaceIntent", json!("HaveNotDecided")),
        (
            "/details/requirements/additionalRequirements/attributes",
            json!([{ "id": "HaveNotDecided", "type": "CustomerMarketplaceIntent" }]),
        ),
    ]
}

#[test]
fn preview_puts_each_cosell_field_at_its_contract_path() {
    let dir = tempfile::tempdir().unwrap();
    let (mapping, input) = files(dir.path(), "HaveNotDecided");
    let out = run(&["preview", "-m", arg(&mapping), arg(&input)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let referral: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (path, value) in expected() {
        assert_eq!(referral.pointer(path), Some(&value), "{path} in {referral}");
    }
    assert!(!text(&out.stderr).contains("WARN"), "{}", text(&out.stderr));
}

#[test]
fn an_unknown_literal_is_a_warning_naming_line_column_and_table_version() {
    let dir = tempfile::tempdir().unwrap();
    let (mapping, input) = files(dir.path(), "DecidedLastYear");
    let checks = [
        run(&["check", "-m", arg(&mapping)]),
        run(&["--quiet", "check", "-m", arg(&mapping), arg(&input)]),
    ];
    for out in checks {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).starts_with("ok: "),
            "{}",
            text(&out.stdout)
        );
        let err = text(&out.stderr);
        let at = format!("{}:13:39: customerMarketplaceIntent:", mapping.display());
        assert!(err.contains(&at), "{err}");
        assert!(err.contains("\"DecidedLastYear\""), "{err}");
        assert!(
            err.contains(VERSION) && err.contains("HaveNotDecided"),
            "{err}"
        );
        assert_eq!(err.matches("WARN").count(), 1, "one warning: {err}");
    }
}

#[test]
fn the_warning_is_a_json_log_line_with_log_format_json() {
    let dir = tempfile::tempdir().unwrap();
    let (mapping, _) = files(dir.path(), "DecidedLastYear");
    let out = run(&["--log-format", "json", "check", "-m", arg(&mapping)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let line: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(line["level"], "WARN");
    let message = line["message"].as_str().unwrap();
    assert!(
        message.contains(":13:39:") && message.contains(VERSION),
        "{message}"
    );
}

#[test]
fn a_value_map_output_outside_the_table_is_a_warning_too() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("intent.toml");
    let text_of = mapping_text("HaveNotDecided").replace(
        "customerMarketplaceIntent = { value = \"HaveNotDecided\" }",
        "customerMarketplaceIntent = { column = \"Intent\", map = { \"open\" = \"Undecided\" } }",
    );
    std::fs::write(&mapping, text_of).unwrap();
    let out = run(&["check", "-m", arg(&mapping)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(":13:"), "{err}");
    assert!(
        err.contains("\"Undecided\"") && err.contains(VERSION),
        "{err}"
    );
}

/// A value outside the table warns on upload too, and is sent as written.
#[test]
fn upload_sends_the_cosell_fields_and_the_sandbox_echoes_them() -> TestResult {
    let (peer, ws) = (Peer::healthy()?, Workspace::new()?);
    let (mapping, input) = files(&ws.path(""), "DecidedLastYear");
    let mut cmd = bare_command();
    cmd.args(["--quiet", "upload", "--mapping", arg(&mapping), arg(&input)]);
    cmd.args(["--api-url", peer.url(), "--rate", "1000", "--timeout", "5"]);
    cmd.arg("--ledger").arg(&ws.ledger);
    cmd.env("PARTNER_API_TOKEN", TOKEN);
    let ran = ws.run(&mut cmd)?;
    ran.expect_code(0)?;
    let warned = format!("{}:13:39: customerMarketplaceIntent:", mapping.display());
    assert!(ran.stderr.contains(&warned), "{}", ran.stderr);
    let listed = peer.outgoing()?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["id"].as_str().ok_or("a referral id")?;
    let stored = peer.get(id)?;
    for (path, value) in expected() {
        let value = match path {
            "/customerMarketplaceIntent" => json!("DecidedLastYear"),
            _ => value,
        };
        assert_eq!(stored.pointer(path), Some(&value), "{path} in {stored}");
    }
    Ok(())
}

#[test]
fn mapping_schema_lists_the_cosell_targets() {
    let out = run(&["mapping-schema"]);
    assert_eq!(out.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields = &schema["properties"]["fields"]["properties"];
    for name in [
        "partnerRole",
        "solutionArea",
        "solutionPlay",
        "customerMarketplaceIntent",
    ] {
        assert!(fields[name].is_object(), "{name} in {fields}");
    }
    let details = fields["details"].to_string();
    assert!(details.contains("additionalRequirements"), "{details}");
}

#[test]
fn the_sandbox_binds_cosell_fields_in_any_case() -> TestResult {
    let peer = Peer::healthy()?;
    let mut body = crate::common::sandbox::referral_with_external_id("CS-CASE")?;
    body["SolutionArea"] = json!("Security");
    body["PartnerRole"] = json!("Services partner");
    let created = peer.create(&body)?;
    let id = created["id"].as_str().ok_or("a referral id")?;
    let stored = peer.get(id)?;
    assert_eq!(stored["solutionArea"], "Security", "{stored}");
    assert_eq!(stored["partnerRole"], "Services partner", "{stored}");
    assert!(stored.get("SolutionArea").is_none(), "{stored}");
    Ok(())
}

#[test]
fn a_literal_attributes_array_is_checked_element_by_element() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("literal.toml");
    let literal = "details.requirements.additionalRequirements.attributes = { value = \
                   [{ id = \"HaveNotDecided\", type = \"CustomerMarketplaceIntent\" }, \
                   { id = \"Undecided\", type = \"CustomerMarketplaceIntent\" }] }";
    let text_of = mapping_text("HaveNotDecided").replace(
        "details.requirements.additionalRequirements.attributes = { column = \"Intent\", split = \";\", item = { type = \"CustomerMarketplaceIntent\" } }",
        literal,
    );
    std::fs::write(&mapping, text_of).unwrap();
    let out = run(&["check", "-m", arg(&mapping)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(":12:"), "{err}");
    assert!(err.contains("\"Undecided\""), "{err}");
    assert_eq!(err.matches("WARN").count(), 1, "only the unknown id: {err}");
}

#[test]
fn warnings_come_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("order.toml");
    let text_of = format!(
        "{}customerMarketplaceIntent = {{ column = \"Intent\", map = {{ \"open\" = \"Undecided\" }} }}\n\
         details.requirements.additionalRequirements.attributes = {{ value = [{{ id = \"Maybe\", type = \"CustomerMarketplaceIntent\" }}] }}\n",
        super::BASE
    );
    std::fs::write(&mapping, text_of).unwrap();
    let out = run(&["check", "-m", arg(&mapping)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let (first, second) = (err.find("\"Undecided\""), err.find("\"Maybe\""));
    assert!(
        first.is_some() && second.is_some() && first < second,
        "{err}"
    );
}
