//! Hostile and damaged inputs: each is read to a clear error naming the file and where, the
//! good rows still go, and nothing overflows the stack or aborts on allocation. Also the
//! encodings detected without `--encoding`, and duplicate header names.

use std::path::{Path, PathBuf};
use std::process::Command;

use referral_sync::source::{SourceError, SourceOptions};

use super::excel_files::save;
use super::excel_stream::rewrite_part;
use super::{open_err, read_all, read_ok, text};

/// The header of the CSV the upload mapping reads (`tests/fixtures/upload/opportunities.toml`).
const HEADER: &str =
    "Id,Name,Customer,City,Country,Amount,Currency,Close,First,Last,Email,Notes,Help";

/// Data row `n` for [`HEADER`], with its customer and notes.
fn row(n: usize, customer: &str, notes: &str) -> String {
    format!(
        "OPP-{n},Opportunity {n},{customer},Seattle,United States,{},USD,2030-01-01T00:00:00Z,Ann,Lee,ann@customer.example,{notes},",
        1000 + n
    )
}

/// `rows` rows under [`HEADER`], joined by `end`; row `n` has customer `Customer n`.
fn csv(rows: usize, end: &str) -> String {
    let mut text = format!("{HEADER}{end}");
    for n in 1..=rows {
        text.push_str(&row(n, &format!("Customer {n}"), &format!("notes {n}")));
        text.push_str(end);
    }
    text
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// Run the binary with `args` in `dir`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_referral-sync"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

fn upload_mapping() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upload/opportunities.toml");
    path.display().to_string()
}

/// A Dataverse collection whose record `deep` (1-based, of 3) nests `levels` objects.
fn nested_page(levels: usize, deep: usize) -> String {
    let records: Vec<String> = (1..=3)
        .map(|n| {
            if n == deep {
                let open = "{\"b\":".repeat(levels);
                let close = "}".repeat(levels);
                format!("{{\"name\":\"r{n}\",\"a\":{open}1{close}}}")
            } else {
                format!("{{\"name\":\"r{n}\"}}")
            }
        })
        .collect();
    format!("{{\"value\":[{}]}}", records.join(","))
}

#[test]
fn deeply_nested_dataverse_record_is_an_error_not_a_stack_overflow() {
    let dir = tempdir();
    let first = write(&dir, "deep-first.json", nested_page(20_000, 1).as_bytes());
    let err = open_err(&first, &SourceOptions::default()).to_string();
    assert!(
        err.contains("deep-first.json") && err.contains("record 1"),
        "{err}"
    );
    assert!(err.contains("nested more than 32 objects deep"), "{err}");

    let middle = write(&dir, "deep-middle.json", nested_page(20_000, 2).as_bytes());
    let rows = read_all(&middle, &SourceOptions::default());
    assert_eq!(rows.len(), 3);
    let bad = rows[1]
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("record 2 read"));
    assert_eq!(bad.row, 2);
    assert!(bad.message.contains("field `a.b.b"), "{}", bad.message);
    let good: Vec<String> = rows.iter().flatten().map(|r| text(r, "name")).collect();
    assert_eq!(good, ["r1", "r3"]);
}

#[test]
fn check_of_a_deeply_nested_dataverse_page_exits_2_naming_the_file() {
    let dir = tempdir();
    write(&dir, "deep.json", nested_page(20_000, 1).as_bytes());
    let mapping = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/dataverse-json.toml");
    let mapping = mapping.display().to_string();
    let (code, _, stderr) = run(dir.path(), &["check", "--mapping", &mapping, "deep.json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("deep.json: record 1: field `a.b"),
        "{stderr}"
    );
}

#[test]
fn deeply_nested_lookup_file_fails_check_naming_the_lookup_and_file() {
    let dir = tempdir();
    write(
        &dir,
        "deep-accounts.json",
        nested_page(20_000, 1).as_bytes(),
    );
    let base = std::fs::read_to_string(upload_mapping()).unwrap_or_else(|e| panic!("{e}"));
    let lookup =
        "\n[lookups.accounts]\nfile = \"deep-accounts.json\"\nkey = \"name\"\non = \"Customer\"\n";
    write(
        &dir,
        "with-lookup.toml",
        format!("{base}{lookup}").as_bytes(),
    );
    write(&dir, "input.csv", csv(2, "\n").as_bytes());
    let (code, _, stderr) = run(
        dir.path(),
        &["check", "-m", "with-lookup.toml", "input.csv"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("lookup `accounts`") && stderr.contains("deep-accounts.json: record 1"),
        "{stderr}"
    );
}

#[test]
fn unclosed_quote_in_the_last_column_is_a_row_error_naming_its_line() {
    let dir = tempdir();
    let mut text = format!("{HEADER}\n");
    for n in 1..=1000 {
        let notes = if n == 3 {
            "\"never closed".to_owned()
        } else {
            format!("notes {n}")
        };
        text.push_str(&row(n, &format!("Customer {n}"), &notes));
        text.push('\n');
    }
    let path = write(&dir, "unclosed-last-column.csv", text.as_bytes());
    let rows = read_all(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 3, "rows 1 and 2, then the error, then nothing");
    assert!(rows[0].is_ok() && rows[1].is_ok());
    let err = rows[2]
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("row 3 read"));
    assert_eq!((err.row, err.column.as_deref()), (4, Some("Notes")));
    assert!(
        err.message
            .contains("opens this field on line 4 is never closed")
            && err.message.contains("to line 1001"),
        "{}",
        err.message
    );

    let (code, stdout, stderr) = run(
        dir.path(),
        &[
            "preview",
            "-m",
            &upload_mapping(),
            "unclosed-last-column.csv",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stderr.contains("unclosed-last-column.csv:row 4"),
        "{stderr}"
    );
}

#[test]
fn unclosed_quote_in_a_middle_column_is_not_reported_as_a_ragged_row() {
    let dir = tempdir();
    let text = csv(5, "\n").replace("Customer 2,", "\"Customer 2,");
    let path = write(&dir, "unclosed-middle-column.csv", text.as_bytes());
    let rows = read_all(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 2);
    let err = rows[1]
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("row 2 read"));
    assert_eq!((err.row, err.column.as_deref()), (3, Some("Customer")));
    assert!(
        err.message.contains("line 3 is never closed"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("ragged"), "{}", err.message);
}

#[test]
fn unclosed_quote_in_a_large_file_stops_after_16_mib_not_at_the_end() {
    let dir = tempdir();
    let text = csv(150_000, "\n").replacen("notes 3,", "\"notes 3,", 1);
    assert!(text.len() > 17 * 1024 * 1024);
    let path = write(&dir, "unclosed-quote-large-file.csv", text.as_bytes());
    let rows = read_all(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 3);
    let err = rows[2]
        .as_ref()
        .err()
        .unwrap_or_else(|| panic!("row 3 read"));
    assert_eq!(err.row, 4);
    assert!(
        err.message
            .contains("opens on line 4 runs on for more than 16 MiB"),
        "{}",
        err.message
    );
}

#[test]
fn closed_quotes_with_doubled_quotes_and_line_breaks_still_read() {
    let dir = tempdir();
    let notes = "\"said \"\"hi\"\",\nthen left\"";
    let text = format!(
        "{HEADER}\n{}\n{}\n",
        row(1, "A", notes),
        row(2, "B", "\"x\"\"\"")
    );
    let path = write(&dir, "quoted-ok.csv", text.as_bytes());
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(super::text(&rows[0], "Notes"), "said \"hi\",\nthen left");
    assert_eq!(super::text(&rows[1], "Notes"), "x\"");
    assert_eq!(rows[1].row, 4);
}

#[test]
fn cr_only_line_endings_are_read_as_lines() {
    let dir = tempdir();
    let path = write(&dir, "classic-mac-cr-only.csv", csv(3, "\r").as_bytes());
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 3);
    assert_eq!(text(&rows[2], "Amount"), "1003");
    assert_eq!(text(&rows[2], "Help"), "");
    assert_eq!(rows[2].row, 4);
}

#[test]
fn one_invalid_byte_in_row_301_is_a_row_error_and_the_other_rows_go() {
    let dir = tempdir();
    let mut bytes = csv(499, "\n").into_bytes();
    let at = bytes
        .windows(13)
        .position(|w| w == b"Customer 300,")
        .unwrap_or_else(|| panic!("no row 300"));
    bytes.insert(at + 9, 0xFF);
    let path = write(&dir, "invalid-byte-in-row-301.csv", &bytes);
    let rows = read_all(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 499);
    let errors: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].row, errors[0].column.as_deref()),
        (301, Some("Customer"))
    );
    assert!(
        errors[0].message.contains("--encoding windows-1252"),
        "{}",
        errors[0].message
    );
}

#[test]
fn windows1252_throughout_is_detected_and_said_on_stderr() {
    let dir = tempdir();
    let text = format!(
        "{HEADER}\n{}\n{}\n",
        row(1, "Müller GmbH", "5 €"),
        row(2, "Société Générale", "naïve")
    );
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    let path = write(&dir, "windows1252-no-flag.csv", &bytes);
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(super::text(&rows[0], "Customer"), "Müller GmbH");
    assert_eq!(super::text(&rows[0], "Notes"), "5 €");
    assert_eq!(super::text(&rows[1], "Customer"), "Société Générale");

    for command in ["check", "preview"] {
        let (code, _, stderr) = run(
            dir.path(),
            &[command, "-m", &upload_mapping(), "windows1252-no-flag.csv"],
        );
        assert_eq!(code, 0, "{command}: {stderr}");
        assert!(
            stderr.contains("windows1252-no-flag.csv: read as windows-1252"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn encoding_flag_wins_over_detection() {
    let dir = tempdir();
    let text = format!("{HEADER}\n{}\n", row(1, "Müller", "n"));
    let path = write(&dir, "utf8-read-as-1252.csv", text.as_bytes());
    let opts = SourceOptions {
        encoding: Some(encoding_rs::WINDOWS_1252),
        ..SourceOptions::default()
    };
    let rows = read_ok(&path, &opts);
    assert_eq!(super::text(&rows[0], "Customer"), "MÃ¼ller");
}

#[test]
fn utf16le_and_be_without_bom_are_recognised() {
    let dir = tempdir();
    let text = format!("{HEADER}\n{}\n", row(1, "Zürich AG", "n"));
    let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for (name, bytes) in [("utf16le-no-bom.csv", le), ("utf16be-no-bom.csv", be)] {
        let path = write(&dir, name, &bytes);
        let rows = read_ok(&path, &SourceOptions::default());
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(super::text(&rows[0], "Customer"), "Zürich AG", "{name}");
    }
}

#[test]
fn shift_jis_is_detected() {
    let dir = tempdir();
    let text = format!(
        "{HEADER}\n{}\n{}\n",
        row(1, "株式会社山田商事", "n"),
        row(2, "東京電力ホールディングス", "n")
    );
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
    let path = write(&dir, "shift-jis-no-flag.csv", &bytes);
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(super::text(&rows[0], "Customer"), "株式会社山田商事");
    assert_eq!(
        super::text(&rows[1], "Customer"),
        "東京電力ホールディングス"
    );
}

#[test]
fn duplicate_header_names_are_an_error_only_when_the_mapping_reads_them() {
    let dir = tempdir();
    let text = format!("{HEADER},name\n{},x\n", row(1, "A", "n"));
    write(&dir, "duplicate-name-header.csv", text.as_bytes());
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "check",
            "-m",
            &upload_mapping(),
            "duplicate-name-header.csv",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("column \"Name\" is ambiguous")
            && stderr.contains("column 2 \"Name\" and column 14 \"name\""),
        "{stderr}"
    );

    let unused = format!("{HEADER},Extra,extra\n{},x,y\n", row(1, "A", "n"));
    write(&dir, "duplicate-unused-header.csv", unused.as_bytes());
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "check",
            "-m",
            &upload_mapping(),
            "duplicate-unused-header.csv",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
}

fn dynamics_sample() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/dynamics365-export.xlsx");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn workbook_claiming_a_billion_shared_strings_is_refused_without_allocating() {
    let bytes = rewrite_part(
        &dynamics_sample(),
        "xl/sharedStrings.xml",
        zip::CompressionMethod::Deflated,
        |xml| {
            let xml = String::from_utf8_lossy(&xml).into_owned();
            let at = xml
                .find("uniqueCount=\"")
                .unwrap_or_else(|| panic!("no uniqueCount"));
            let end = xml[at + 13..].find('"').unwrap_or(0) + at + 13;
            format!("{}uniqueCount=\"1000000000\"{}", &xml[..at], &xml[end..]).into_bytes()
        },
    );
    let (_dir, path) = save("hostile-shared-string-count.xlsx", &bytes);
    let err = open_err(&path, &SourceOptions::default());
    let message = err.to_string();
    assert!(matches!(err, SourceError::Workbook { .. }), "{err:?}");
    assert!(
        message.contains("hostile-shared-string-count.xlsx")
            && message.contains("xl/sharedStrings.xml claims 1000000000 shared strings"),
        "{message}"
    );
}

#[test]
fn corrupt_xlsx_cell_names_the_sheet_and_the_cell() {
    let bytes = rewrite_part(
        &dynamics_sample(),
        "xl/worksheets/sheet1.xml",
        zip::CompressionMethod::Deflated,
        |xml| {
            String::from_utf8_lossy(&xml)
                .replace("<c r=\"E3\" t=\"s\">", "<c r=\"E3 t=\"s\">")
                .into_bytes()
        },
    );
    let (_dir, path) = save("corrupt-cell-e3.xlsx", &bytes);
    let message = open_err(&path, &SourceOptions::default()).to_string();
    assert!(
        message.contains("corrupt-cell-e3.xlsx")
            && message.contains("sheet \"My Open Opportunities\", after cell D3"),
        "{message}"
    );
}

#[test]
fn workbook_with_one_shared_string_of_megabytes_is_refused() {
    let part = "xl/sharedStrings.xml";
    let bytes = rewrite_part(
        &dynamics_sample(),
        part,
        zip::CompressionMethod::Deflated,
        |xml| {
            let huge = format!("<t>{}</t>", "a".repeat(2 * 1024 * 1024));
            String::from_utf8_lossy(&xml)
                .replacen("<t>Topic</t>", &huge, 1)
                .into_bytes()
        },
    );
    let (_dir, path) = save("hostile-huge-shared-string.xlsx", &bytes);
    let message = open_err(&path, &SourceOptions::default()).to_string();
    assert!(
        message.contains("hostile-huge-shared-string.xlsx")
            && message.contains("xl/sharedStrings.xml: shared string 4 takes more than"),
        "{message}"
    );
}
