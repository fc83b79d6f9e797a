//! `pull` end to end: the real binary against a sandbox process, after real uploads. The
//! first pull delivers every referral as `new`; after partner changes (an edited export
//! uploaded, a status changed behind the tool's back) the next pull delivers exactly those,
//! naming what changed; nothing changed costs one request and writes a header-only file; the
//! JSON and NDJSON files carry the same rows; an older ledger is migrated; bad flags are clear
//! usage errors sent before any request.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::admin::{Row, Workspace, code, expect_code, stderr};
use crate::common::api::Api;
use crate::common::sandbox::TestResult;

/// A file's rows as header → cell maps, by referralId.
pub type Rows = BTreeMap<String, BTreeMap<String, String>>;

const FIRST: [Row<'static>; 3] = [
    ("P-1", "Deal one", "Contoso", "Open", "100"),
    ("P-2", "Deal two", "Fabrikam", "Open", "200"),
    ("P-3", "Deal three", "Litware", "Open", "300"),
];

/// `pull` into `output` (and `extra` arguments) against the workspace's sandbox.
pub fn pull(ws: &Workspace, output: &str, extra: &[&str]) -> TestResult<std::process::Output> {
    let url = ws.sandbox.base_url.clone();
    let mut args = vec!["--quiet", "pull", "--output", output, "--api-url", &url];
    args.extend(extra);
    ws.admin(&args)
}

/// The rows of a pull CSV file, by referralId.
pub fn csv_rows(ws: &Workspace, name: &str) -> TestResult<Rows> {
    csv_rows_by(ws, name, "referralId")
}

/// The rows of a CSV file as header → cell maps, by the cell of column `key`.
pub fn csv_rows_by(ws: &Workspace, name: &str, key: &str) -> TestResult<Rows> {
    let mut reader = csv::Reader::from_path(ws.path(name))?;
    let headers: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Rows::new();
    for record in reader.records() {
        let record = record?;
        let row: BTreeMap<String, String> = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        rows.insert(row[key].clone(), row);
    }
    Ok(rows)
}

/// A workspace with [`FIRST`] uploaded.
pub fn uploaded() -> TestResult<Workspace> {
    let ws = Workspace::new(&[])?;
    ws.write_export(&FIRST)?;
    expect_code(&ws.upload()?, 0)?;
    Ok(ws)
}

#[test]
fn the_first_pull_delivers_everything_and_the_next_exactly_what_changed() -> TestResult {
    let ws = uploaded()?;
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    let first = csv_rows(&ws, "out.csv")?;
    assert_eq!(first.len(), 3, "{first:?}");
    for (external_id, _, _, _, value) in FIRST {
        let row = &first[&ws.referral_id(external_id)?];
        assert_eq!(row["externalReferenceId"], external_id);
        assert_eq!(row["changed"], "new");
        assert_eq!(row["dealValue"], value);
        assert_eq!(row["direction"], "Outgoing");
    }

    // The CRM edits one deal (uploaded as a PATCH); another is closed in Partner Center.
    ws.write_export(&[
        FIRST[0],
        ("P-2", "Deal two", "Fabrikam", "Open", "250"),
        FIRST[2],
    ])?;
    expect_code(&ws.upload()?, 0)?;
    ws.set_status(&ws.referral_id("P-3")?, "Closed", "Lost")?;
    let output = pull(&ws, "out.csv", &[])?;
    expect_code(&output, 0)?;
    let next = csv_rows(&ws, "out.csv")?;
    let p2 = ws.referral_id("P-2")?;
    let p3 = ws.referral_id("P-3")?;
    assert_eq!(next.keys().cloned().collect::<Vec<_>>(), sorted([&p2, &p3]));
    assert_eq!(next[&p2]["changed"], "details.dealValue");
    assert_eq!(next[&p2]["dealValue"], "250");
    assert!(next[&p3]["changed"].contains("status"), "{:?}", next[&p3]);
    assert_eq!(next[&p3]["status"], "Closed");
    assert_eq!(next[&p3]["substatus"], "Lost");
    assert!(
        stderr(&output).contains("2 changed: 2 ours, 0 inbound"),
        "{}",
        stderr(&output)
    );
    Ok(())
}

fn sorted<'a>(ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.into_iter().cloned().collect();
    ids.sort();
    ids
}

#[test]
fn nothing_changed_writes_a_header_only_file_for_one_request() -> TestResult {
    let ws = uploaded()?;
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    let api = Api::new(&ws.sandbox.base_url)?;
    let before = api.stat("requests")?;
    let output = pull(&ws, "out.csv", &[])?;
    expect_code(&output, 0)?;
    assert_eq!(api.stat("requests")? - before, 1, "{}", stderr(&output));
    let text = std::fs::read_to_string(ws.path("out.csv"))?;
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("externalReferenceId,referralId,"),
        "{text}"
    );
    assert!(stderr(&output).contains("0 changed"), "{}", stderr(&output));
    Ok(())
}

#[test]
fn json_and_ndjson_files_carry_the_same_rows() -> TestResult {
    let ws = uploaded()?;
    expect_code(&pull(&ws, "out.json", &["--full"])?, 0)?;
    let array: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(ws.path("out.json"))?)?;
    assert_eq!(array.len(), 3);
    assert!(array.iter().all(|row| row["changed"] == "new"));
    // Delivered already: the same referrals, once more by hand, are not delivered again.
    ws.set_status(&ws.referral_id("P-1")?, "Closed", "Won")?;
    expect_code(&pull(&ws, "out.ndjson", &[])?, 0)?;
    let text = std::fs::read_to_string(ws.path("out.ndjson"))?;
    let lines: Vec<Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["externalReferenceId"], "P-1");
    assert_eq!(lines[0]["status"], "Closed");
    assert_eq!(lines[0]["substatus"], "Won");
    Ok(())
}

#[test]
fn a_pull_against_an_older_ledger_migrates_it_and_keeps_its_records() -> TestResult {
    let ws = uploaded()?;
    // What schema version 3 wrote: no mirror tables.
    let conn = rusqlite::Connection::open(ws.path("ledger.db"))?;
    conn.execute_batch(
        "DROP TABLE mirror; DROP TABLE mirror_watermark; DROP TABLE triage; PRAGMA user_version = 3;",
    )?;
    drop(conn);
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    assert_eq!(csv_rows(&ws, "out.csv")?.len(), 3);
    let ledger = ws.ledger()?;
    assert_eq!(
        ledger.schema_version()?,
        referral_sync::ledger::current_schema_version()
    );
    assert!(ledger.get("P-1")?.is_some());
    Ok(())
}

#[test]
fn bad_flags_are_usage_errors_before_any_request() -> TestResult {
    let ws = uploaded()?;
    let api = Api::new(&ws.sandbox.base_url)?;
    let before = api.stat("requests")?;
    let cases: [(&[&str], &str); 4] = [
        (
            &["--output", "out.xlsx"],
            "--output out.xlsx: expected a file ending in .csv",
        ),
        (
            &["--output", "out.csv", "--inbound", "./out.csv"],
            "is the --output file",
        ),
        (&["--output", "missing/out.csv"], "--output"),
        (
            &["--output", "out.csv", "--inbound", "in.txt"],
            "--inbound in.txt: expected a file ending in .csv",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["--quiet", "pull"];
        args.extend(flags);
        args.extend(["--api-url", &ws.sandbox.base_url]);
        let output = ws.admin(&args)?;
        assert_eq!(code(&output), 2, "{flags:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(message),
            "{flags:?}: {}",
            stderr(&output)
        );
    }
    let output = ws.run(&[
        "--quiet",
        "pull",
        "--output",
        "out.csv",
        "--ledger",
        "nope.db",
        "--api-url",
        &ws.sandbox.base_url,
    ])?;
    assert_ne!(code(&output), 0);
    assert!(stderr(&output).contains("nope.db"), "{}", stderr(&output));
    assert!(!ws.path("nope.db").exists());
    assert_eq!(api.stat("requests")?, before, "no request was sent");
    assert!(!ws.path("out.csv").exists());
    Ok(())
}

#[test]
fn many_changes_since_the_watermark_are_listed_in_ranges_and_delivered_exactly() -> TestResult {
    // 450 deals uploaded just now: the watermark's overlap holds all of them (5 pages), so
    // the next pull lists its changes in ranges, and still delivers exactly what changed.
    let owned: Vec<(String, String, String)> = (1..=450)
        .map(|n| {
            (
                format!("M-{n:03}"),
                format!("Deal {n}"),
                format!("{}", 100 + n),
            )
        })
        .collect();
    fn rows<'a>(owned: &'a [(String, String, String)], edited: &'a str) -> Vec<Row<'a>> {
        owned
            .iter()
            .map(|(id, name, value)| {
                let value = match id.as_str() {
                    "M-007" | "M-300" => edited,
                    _ => value.as_str(),
                };
                (id.as_str(), name.as_str(), "Contoso", "Open", value)
            })
            .collect()
    }
    let ws = Workspace::new(&[])?;
    ws.write_export(&rows(&owned, "107"))?;
    expect_code(&ws.upload()?, 0)?;
    expect_code(&pull(&ws, "out.csv", &[])?, 0)?;
    assert_eq!(csv_rows(&ws, "out.csv")?.len(), 450);

    ws.write_export(&rows(&owned, "999"))?;
    expect_code(&ws.upload()?, 0)?;
    let output = ws.admin(&[
        "pull",
        "--output",
        "out.csv",
        "--api-url",
        &ws.sandbox.base_url.clone(),
    ])?;
    expect_code(&output, 0)?;
    assert!(
        stderr(&output).contains("listing them in ranges"),
        "{}",
        stderr(&output)
    );
    let next = csv_rows(&ws, "out.csv")?;
    let edited = sorted([&ws.referral_id("M-007")?, &ws.referral_id("M-300")?]);
    assert_eq!(next.keys().cloned().collect::<Vec<_>>(), edited);
    for row in next.values() {
        assert_eq!(row["changed"], "details.dealValue");
        assert_eq!(row["dealValue"], "999");
    }
    Ok(())
}
