//! CSV reading: encodings, delimiters, multi-line fields, ragged rows, header matching,
//! and the real Dynamics and Salesforce exports.

use referral_sync::cli::InputArgs;
use referral_sync::source::{self, Cell, SourceError, SourceOptions};

use super::{fixture, open_err, read_all, read_ok, real_export, text};

fn with_encoding(label: &str) -> SourceOptions {
    SourceOptions {
        encoding: encoding_rs::Encoding::for_label(label.as_bytes()),
        ..SourceOptions::default()
    }
}

#[test]
fn windows1252_csv_is_detected_and_decodes_as_with_the_flag() {
    let path = fixture("windows1252.csv");
    for opts in [SourceOptions::default(), with_encoding("windows-1252")] {
        let rows = read_ok(&path, &opts);
        assert_eq!(rows.len(), 2);
        assert_eq!(text(&rows[0], "Topic"), "Café crème");
        assert_eq!(text(&rows[0], "potential customer"), "Société Générale");
        assert_eq!(text(&rows[1], "Topic"), "Naïve – deal");
        assert_eq!(rows[1].row, 3);
    }
}

#[test]
fn a_short_file_with_one_latin1_letter_is_read_as_windows1252() {
    // Three lines, one of them with a byte that is not UTF-8: more like a Windows-1252
    // file than a damaged UTF-8 one.
    let rows = read_ok(&fixture("invalid-utf8.csv"), &SourceOptions::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(text(&rows[1], "Topic"), "Café");
}

#[test]
fn semicolon_delimiter_is_detected() {
    let rows = read_ok(&fixture("semicolon.csv"), &SourceOptions::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(text(&rows[0], "Topic"), "Deal; one");
    assert_eq!(text(&rows[0], "Est. Revenue"), "1000,50");
    assert_eq!(text(&rows[0], "Notes"), "a, b");
    assert_eq!(rows[1].get("Notes"), Some(&Cell::Empty));
}

#[test]
fn tab_delimiter_is_detected_and_can_be_given() {
    let detected = read_ok(&fixture("tab.tsv"), &SourceOptions::default());
    assert_eq!(text(&detected[1], "Topic"), "Beta, Inc");
    let args = InputArgs {
        encoding: None,
        delimiter: Some("\\t".to_owned()),
        sheet: None,
        header_row: None,
    };
    let opts = SourceOptions::from_args(&args).unwrap_or_default();
    assert_eq!(opts.delimiter, Some(b'\t'));
    let given = read_ok(&fixture("tab.tsv"), &opts);
    assert_eq!(text(&given[0], "Amount"), "1");
}

#[test]
fn from_args_rejects_bad_flags() {
    let args = |encoding: Option<&str>, delimiter: Option<&str>, header_row| InputArgs {
        encoding: encoding.map(str::to_owned),
        delimiter: delimiter.map(str::to_owned),
        sheet: None,
        header_row,
    };
    assert!(SourceOptions::from_args(&args(Some("klingon"), None, None)).is_err());
    assert!(SourceOptions::from_args(&args(None, Some(";;"), None)).is_err());
    assert!(SourceOptions::from_args(&args(None, Some("\""), None)).is_err());
    assert!(SourceOptions::from_args(&args(None, None, Some(0))).is_err());
    let ok = SourceOptions::from_args(&args(Some("latin1"), Some(";"), Some(2)));
    let ok = ok.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.encoding, Some(encoding_rs::WINDOWS_1252));
    assert_eq!(ok.delimiter, Some(b';'));
    assert_eq!(ok.header_row, Some(2));
}

#[test]
fn utf16_with_bom_is_decoded_without_encoding_flag() {
    let rows = read_ok(&fixture("utf16le-bom.csv"), &SourceOptions::default());
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0], "Topic"), "Éclair");
    assert_eq!(text(&rows[0], "Customer"), "Ünïcode Ltd");
    assert_eq!(rows[0].row, 2);
    let rows = read_ok(&fixture("utf16be-bom.csv"), &SourceOptions::default());
    assert_eq!(text(&rows[0], "Customer"), "C1");
    // A BOM wins over a wrong --encoding.
    let rows = read_ok(&fixture("utf16le-bom.csv"), &with_encoding("windows-1252"));
    assert_eq!(text(&rows[0], "Topic"), "Éclair");
}

#[test]
fn multiline_fields_report_the_line_where_the_record_starts() {
    let rows = read_ok(&fixture("multiline.csv"), &SourceOptions::default());
    let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, [2, 5, 6]);
    assert_eq!(
        text(&rows[0], "Description"),
        "line one\nline two\nline three"
    );
    assert_eq!(
        text(&rows[2], "Description"),
        "a \"quoted\" word\r\nand more"
    );
    assert_eq!(text(&rows[2], "Amount"), "3");
}

#[test]
fn ragged_rows_are_row_errors_and_reading_goes_on() {
    let results = read_all(&fixture("ragged.csv"), &SourceOptions::default());
    assert_eq!(results.len(), 4);
    let rows: Vec<u64> = results
        .iter()
        .map(|r| match r {
            Ok(row) => row.row,
            Err(e) => e.row,
        })
        .collect();
    assert_eq!(rows, [2, 3, 4, 5]);
    assert!(results[0].is_ok() && results[3].is_ok());
    for bad in [&results[1], &results[2]] {
        let err = bad
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(err.contains("ragged.csv:row"), "{err}");
        assert!(err.contains("header has 3 columns"), "{err}");
    }
}

#[test]
fn bom_crlf_and_blank_rows() {
    let rows = read_ok(&fixture("utf8-bom-crlf.csv"), &SourceOptions::default());
    assert_eq!(rows.len(), 2, "the all-empty row is skipped");
    assert_eq!(
        rows[0].headers.names()[0],
        "Est. Revenue",
        "no BOM in the name"
    );
    assert_eq!(text(&rows[0], "est revenue"), "10");
    assert_eq!(text(&rows[0], "EST._REVENUE"), "10");
    assert_eq!(text(&rows[1], "Topic"), "y");
    assert_eq!(rows[1].row, 4);
}

#[test]
fn header_row_can_be_given() {
    let opts = SourceOptions {
        header_row: Some(3),
        ..SourceOptions::default()
    };
    let rows = read_ok(&fixture("header-in-row-3.csv"), &opts);
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0], "Topic"), "A");
    assert_eq!(rows[0].row, 4);
}

#[test]
fn empty_and_missing_files_are_short_errors() {
    let err = open_err(&fixture("empty.csv"), &SourceOptions::default());
    assert!(matches!(err, SourceError::NoHeader { .. }), "{err:?}");
    assert!(err.to_string().contains("empty.csv"));
    let err = open_err(&fixture("no-such-file.csv"), &SourceOptions::default());
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-file.csv"));
}

#[test]
fn open_all_chains_files_in_order_and_checks_all_up_front() {
    let paths = [fixture("tab.tsv"), fixture("semicolon.csv")];
    let rows: Vec<_> = source::open_all(&paths, &SourceOptions::default())
        .map(|s| s.collect::<Vec<_>>())
        .unwrap_or_default();
    assert_eq!(rows.len(), 4);
    let files: Vec<String> = rows
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| {
            r.file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        files,
        ["tab.tsv", "tab.tsv", "semicolon.csv", "semicolon.csv"]
    );

    let bad = [fixture("tab.tsv"), fixture("missing.csv")];
    let err = source::open_all(&bad, &SourceOptions::default()).err();
    assert!(matches!(err, Some(SourceError::Io { .. })), "{err:?}");
}

#[test]
fn real_dynamics_opportunity_export() {
    let Some(path) = real_export("d365-demo-generator_Opportunity.csv") else {
        return;
    };
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 5229);
    assert_eq!(rows.first().map(|r| r.row), Some(2));
    assert_eq!(rows.last().map(|r| r.row), Some(5230));
    let first = &rows[0];
    assert_eq!(first.headers.names()[0], "Created On");
    assert_eq!(text(first, "Created On"), "5/20/2024 7:42");
    assert!(text(first, "Potential Customer").starts_with("Adatum"));
    for row in &rows {
        assert_eq!(row.values.len(), 23);
        assert!(matches!(
            text(row, "Status").as_str(),
            "Open" | "Won" | "Lost"
        ));
    }
    assert!(!text(&rows[5228], "Est. Revenue").ends_with('\r'));
}

#[test]
fn real_salesforce_opportunity_export() {
    let Some(path) = real_export("sfdc-data-cloud-workshop_Opportunity.csv") else {
        return;
    };
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 50);
    assert_eq!(text(&rows[0], "Id"), "006Ec00000AieKFIAZ");
    assert_eq!(text(&rows[0], "Amount"), "1124741.15");
    assert_eq!(text(&rows[0], "CloseDate"), "2024-11-10");
    assert_eq!(rows[0].get("IsWon"), Some(&Cell::Empty));
    assert_eq!(text(&rows[1], "IsWon"), "1");
    assert_eq!(rows[49].row, 51);
}

#[test]
fn blank_lines_and_quoted_last_fields_in_crlf_files() {
    let rows = read_ok(
        &fixture("blank-lines-crlf-quoted.csv"),
        &SourceOptions::default(),
    );
    let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, [2, 4, 7]);
    assert_eq!(text(&rows[0], "B"), "x");
    assert_eq!(text(&rows[1], "B"), "y\r\nz");
    assert_eq!(text(&rows[2], "B"), "w");
}

#[test]
fn dynamics_columns_of_a_resaved_csv_get_stable_names() {
    let rows = read_ok(&fixture("dynamics-resaved.csv"), &SourceOptions::default());
    assert_eq!(rows.len(), 2);
    assert_eq!(
        text(&rows[0], "Dynamics Record Id"),
        "6f1a3c1e-2b4d-ef11-a73d-000d3a5c8e21"
    );
    assert_eq!(
        text(&rows[1], "Dynamics Row Checksum"),
        "Ab3+Yx3SkkWpNDe1UqFX7s4pP1+Q=="
    );
    assert_eq!(text(&rows[0], "Dynamics Modified On"), "5/20/2024 7:42 AM");
    assert_eq!(
        text(&rows[1], "(Do Not Modify) Opportunity"),
        text(&rows[1], "Dynamics Record Id")
    );
    assert_eq!(text(&rows[1], "Est. Revenue"), "99.5");
    assert_eq!(rows[1].row, 3);
}

#[test]
fn open_all_reports_an_input_that_vanished_before_its_turn() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    for path in [&a, &b] {
        std::fs::write(path, "Topic\nx\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let source = source::open_all(&[a, b.clone()], &SourceOptions::default());
    let mut source = source.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(source.next(), Some(Ok(_))));
    std::fs::remove_file(&b).unwrap_or_else(|e| panic!("{e}"));
    let err = match source.next() {
        Some(Err(e)) => e,
        other => panic!("expected a row error, got {other:?}"),
    };
    assert_eq!(err.file.as_path(), b.as_path());
    assert!(
        err.to_string().contains("cannot read this input any more"),
        "{err}"
    );
    assert!(source.next().is_none());
}

#[test]
fn real_account_exports() {
    for (name, count, column) in [
        (
            "d365-demo-generator_Account.csv",
            33,
            "Address 1: State/Province",
        ),
        ("sfdc-data-cloud-workshop_Account.csv", 22, "BillingCountry"),
    ] {
        let Some(path) = real_export(name) else {
            return;
        };
        let rows = read_ok(&path, &SourceOptions::default());
        assert_eq!(rows.len(), count, "{name}");
        assert!(rows.iter().all(|r| r.get(column).is_some()), "{name}");
    }
}

#[test]
fn invalid_utf8_after_the_first_64_kib_is_a_row_error() {
    let mut bytes = b"Topic,Customer,Amount\n".to_vec();
    for i in 0..4000 {
        bytes.extend(format!("Deal {i},Contoso,{i}\n").as_bytes());
    }
    bytes.extend(b"Caf\xe9,Soci\xe9t\xe9,1\nLast,Fabrikam,2\n");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("late-windows1252.csv");
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let results = read_all(&path, &SourceOptions::default());
    assert_eq!(results.len(), 4002);
    let err = results[4000]
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        err.contains("late-windows1252.csv:row 4002: Topic: invalid UTF-8"),
        "{err}"
    );
    assert!(err.contains("--encoding windows-1252"), "{err}");
    assert!(results[4001].is_ok());
}

#[test]
fn a_character_split_between_two_fields_is_a_row_error_not_a_character() {
    // Each field holds half of "é" (C3 | A9): end to end they would read as valid text.
    // The pair comes after the first 64 KiB, which are checked as a whole when opening.
    let mut bytes = "Topic,Customer,Amount\nFirst,Contoso,1\n"
        .as_bytes()
        .to_vec();
    for _ in 0..6000 {
        bytes.extend(b"Deal,Contoso,2\n");
    }
    bytes.extend(b"Caf\xc3,\xa9Soci,3\nLast,Fabrikam,4\n");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("split.csv");
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let results = read_all(&path, &SourceOptions::default());
    assert_eq!(results.len(), 6003);
    let err = results[6001]
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        err.contains("split.csv:row 6003: Topic: invalid UTF-8"),
        "{err}"
    );
    let last = results[6002].as_ref().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(last, "Customer"), "Fabrikam");
    assert_eq!(last.get_text("Amount"), Some("4"));
}

#[test]
fn delimiter_is_detected_on_the_given_header_row() {
    let opts = SourceOptions {
        header_row: Some(3),
        ..SourceOptions::default()
    };
    let rows = read_ok(&fixture("semicolon-header-in-row-3.csv"), &opts);
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0], "Amount"), "1,5");
    assert_eq!(text(&rows[0], "Notes"), "x, y");
    assert_eq!(rows[0].row, 4);
}

#[test]
fn utf16_without_bom_reads_with_the_encoding_flag_too() {
    let content = "Topic\tCustomer\r\nÉclair\tZürich AG\r\n";
    let bytes: Vec<u8> = content.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("utf16le-no-bom.txt");
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    let rows = read_ok(&path, &with_encoding("utf-16le"));
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0], "Customer"), "Zürich AG");
}
