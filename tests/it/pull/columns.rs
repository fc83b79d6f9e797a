//! `pull --mapping`: the mapping's `[pull]` section names the file's columns; a referral whose
//! cell cannot be written (a status its map does not list) is reported, left out and left
//! undelivered, while the others are delivered (exit 1); a mapping without `[pull]` is a
//! usage error.

use super::pulls::{csv_rows_by, pull, uploaded};
use crate::admin::{code, expect_code, stderr};
use crate::common::sandbox::TestResult;

/// The CRM's columns: its record id, its status words, its number format.
const PULL: &str = r#"
[tables.pc_status]
values = { "Active/Accepted" = "Open", "Closed/Won" = "Won" }

[pull]
Id = "sync.recordId"
Status = { template = "{status}/{substatus}", map = "pc_status" }
Value = { path = "details.dealValue", decimals = 2 }
"#;

#[test]
fn the_mappings_pull_columns_shape_the_file_and_a_bad_cell_stays_undelivered() -> TestResult {
    let ws = uploaded()?;
    let mapping = std::fs::read_to_string(ws.path("mapping.toml"))?;
    std::fs::write(ws.path("pull.toml"), format!("{mapping}\n{PULL}"))?;
    ws.set_status(&ws.referral_id("P-2")?, "Closed", "Won")?;
    ws.set_status(&ws.referral_id("P-3")?, "Closed", "Lost")?;

    let output = pull(&ws, "crm.csv", &["--mapping", "pull.toml"])?;
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("column \"Status\"") && stderr(&output).contains("Closed/Lost"),
        "{}",
        stderr(&output)
    );
    let rows = csv_rows_by(&ws, "crm.csv", "Id")?;
    assert_eq!(rows.keys().cloned().collect::<Vec<_>>(), ["P-1", "P-2"]);
    assert_eq!(rows["P-1"]["Status"], "Open");
    assert_eq!(rows["P-2"]["Status"], "Won");
    assert_eq!(rows["P-2"]["Value"], "200.00");

    // Without the mapping, the referral left out is still to deliver, and only it.
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    let rest = csv_rows_by(&ws, "out.csv", "externalReferenceId")?;
    assert_eq!(rest.keys().cloned().collect::<Vec<_>>(), ["P-3"]);
    assert_eq!(rest["P-3"]["changed"], "new");
    Ok(())
}

#[test]
fn a_mapping_without_a_pull_section_is_a_usage_error() -> TestResult {
    let ws = uploaded()?;
    let output = pull(&ws, "crm.csv", &["--mapping", "mapping.toml"])?;
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no [pull] section"),
        "{}",
        stderr(&output)
    );
    assert!(!ws.path("crm.csv").exists());
    Ok(())
}
