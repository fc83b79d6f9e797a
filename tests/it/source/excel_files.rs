//! Workbook reading, on workbooks generated here: Dynamics "Export to Excel" layout with
//! hidden Do-Not-Modify columns and hidden sheets, dates in both date systems, error cells,
//! a header in row 2, sheet choice, and password-protected or truncated files.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use jiff::ToSpan;
use jiff::civil::{Date, date};
use referral_sync::source::{Cell, SourceError, SourceOptions, dynamics};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, XlsxError};

use super::{open_err, read_all, read_ok, text};

const GUID_1: &str = "6f1a3c1e-2b4d-ef11-a73d-000d3a5c8e21";
const GUID_2: &str = "{7A2B4D2F-3C5E-EF11-A73D-000D3A5C8E21}";

/// Write `bytes` to `name` in a fresh temporary directory.
pub(super) fn save(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    (dir, path)
}

pub(super) fn buffer(mut workbook: Workbook) -> Vec<u8> {
    workbook
        .save_to_buffer()
        .unwrap_or_else(|e| panic!("xlsx: {e}"))
}

/// A Dynamics 365 export: a hidden first sheet, then the view with hidden columns A–C.
/// The checksum column comes first and the entity label is German, so only the values can
/// tell which column holds the record id.
pub(super) fn dynamics_export() -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let hidden = workbook.add_worksheet().set_name("hiddenSheet")?;
    hidden.write_string(0, 0, "opportunity:metadata")?;
    hidden.set_hidden(true);
    let sheet = workbook
        .add_worksheet()
        .set_name("Meine offenen Verkaufschancen")?;
    sheet.set_active(true);
    let date_format = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let headers = [
        "(do not modify) ROW CHECKSUM",
        "(Do Not Modify) Verkaufschance",
        "(Do Not Modify) Geändert am",
        "Topic",
        "Est. Revenue",
        "Address 1: Country/Region (Potential Customer) (Account)",
    ];
    for (c, header) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *header)?;
    }
    for c in 0..3 {
        sheet.set_column_hidden(c)?;
    }
    let rows = [
        (GUID_1, "Coffee grinders", 1200.0, "Germany"),
        (GUID_2, "Espresso", 99.5, "France"),
    ];
    for (i, (guid, topic, revenue, country)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, format!("ld6zrxYx3SkkWpNDe1UqFX7s4pP1{r}+Q=="))?;
        sheet.write_string(r, 1, *guid)?;
        let modified = ExcelDateTime::from_ymd(2024, 5, 20)?.and_hms(7, 42, 0)?;
        sheet.write_datetime_with_format(r, 2, &modified, &date_format)?;
        sheet.write_string(r, 3, *topic)?;
        sheet.write_number(r, 4, *revenue)?;
        sheet.write_string(r, 5, *country)?;
    }
    Ok(buffer(workbook))
}

#[test]
fn dynamics_export_exposes_stable_names_and_skips_hidden_sheets() {
    let bytes = dynamics_export().unwrap_or_else(|e| panic!("{e}"));
    let (_dir, path) = save("My Open Opportunities 2024-05-20 07-42-00.xlsx", &bytes);
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.row, 2);
    assert_eq!(text(first, dynamics::RECORD_ID), GUID_1);
    assert_eq!(text(first, "(Do Not Modify) Verkaufschance"), GUID_1);
    assert_eq!(text(&rows[1], "Dynamics Record Id"), GUID_2);
    assert!(text(first, dynamics::ROW_CHECKSUM).starts_with("ld6zrx"));
    assert_eq!(
        first.get(dynamics::MODIFIED_ON),
        Some(&Cell::DateTime(date(2024, 5, 20).at(7, 42, 0, 0)))
    );
    assert_eq!(first.get("Est. revenue"), Some(&Cell::Int(1200)));
    assert_eq!(rows[1].get("Est. Revenue"), Some(&Cell::Float(99.5)));
    assert_eq!(
        text(
            first,
            "Address 1: Country/Region (Potential Customer) (Account)"
        ),
        "Germany"
    );
}

#[test]
fn sheet_by_name_or_index_and_missing_sheet_lists_sheets() {
    let bytes = dynamics_export().unwrap_or_else(|e| panic!("{e}"));
    let (_dir, path) = save("export.xlsx", &bytes);
    let by_name = SourceOptions {
        sheet: Some("hiddensheet".to_owned()),
        header_row: Some(1),
        ..SourceOptions::default()
    };
    let rows = read_all(&path, &by_name);
    assert!(rows.is_empty(), "the hidden sheet has only its header");
    let by_index = SourceOptions {
        sheet: Some("1".to_owned()),
        ..SourceOptions::default()
    };
    assert_eq!(read_ok(&path, &by_index).len(), 2);
    let missing = SourceOptions {
        sheet: Some("Opportunities".to_owned()),
        ..SourceOptions::default()
    };
    let err = open_err(&path, &missing);
    let message = err.to_string();
    assert!(matches!(err, SourceError::MissingSheet { .. }), "{err:?}");
    assert!(message.contains("\"hiddenSheet\""), "{message}");
    assert!(
        message.contains("\"Meine offenen Verkaufschancen\""),
        "{message}"
    );
}

/// A title in row 1, the header in row 2, then typed data and an error cell.
fn header_in_row_2() -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_string(0, 0, "Opportunities exported by admin")?;
    for (c, header) in ["Topic", "Close Date", "Amount", "Won", "Lookup", "Call at"]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, c as u16, *header)?;
    }
    sheet.write_string(2, 0, "Alpha")?;
    sheet.write_datetime_with_format(2, 1, &ExcelDateTime::from_ymd(2024, 2, 29)?, &date_format)?;
    sheet.write_number(2, 2, 1_000_000.0)?;
    sheet.write_boolean(2, 3, true)?;
    sheet.write_number(2, 4, 7.0)?;
    // Row 4 left empty: skipped.
    sheet.write_string(4, 0, "Beta")?;
    sheet.write_formula(
        4,
        4,
        Formula::new("=VLOOKUP(A5,Z:Z,1,FALSE)").set_result("#N/A"),
    )?;
    sheet.write_string(5, 0, "Gamma")?;
    sheet.write_number(5, 2, -0.25)?;
    let time_format = Format::new().set_num_format("hh:mm");
    sheet.write_datetime_with_format(5, 5, &ExcelDateTime::from_hms(7, 30, 0)?, &time_format)?;
    Ok(buffer(workbook))
}

#[test]
fn header_row_is_detected_below_a_title_or_given() {
    let bytes = header_in_row_2().unwrap_or_else(|e| panic!("{e}"));
    let (_dir, path) = save("header-in-row-2.xlsx", &bytes);
    for opts in [
        SourceOptions::default(),
        SourceOptions {
            header_row: Some(2),
            ..SourceOptions::default()
        },
    ] {
        let results = read_all(&path, &opts);
        assert_eq!(results.len(), 3);
        let alpha = results[0].as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(alpha.row, 3);
        assert_eq!(
            alpha.get("close date"),
            Some(&Cell::Date(date(2024, 2, 29)))
        );
        assert_eq!(alpha.get("Amount"), Some(&Cell::Int(1_000_000)));
        assert_eq!(alpha.get("Won"), Some(&Cell::Bool(true)));
        // The error cell stays in its row; the mapping fails the row if it reads the cell.
        let beta = results[1].as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(beta.row, 5);
        assert_eq!(beta.get("Lookup"), Some(&Cell::Error("#N/A".to_owned())));
        assert_eq!(text(beta, "Topic"), "Beta");
        let gamma = results[2].as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gamma.row, 6);
        assert_eq!(gamma.get("Amount"), Some(&Cell::Float(-0.25)));
        assert_eq!(gamma.get("Close Date"), Some(&Cell::Empty));
        assert_eq!(text(gamma, "Call at"), "7:30:00", "a time of day is text");
    }
}

#[test]
fn header_row_outside_the_sheet_is_an_error() {
    let bytes = header_in_row_2().unwrap_or_else(|e| panic!("{e}"));
    let (_dir, path) = save("short.xlsx", &bytes);
    let opts = SourceOptions {
        header_row: Some(40),
        ..SourceOptions::default()
    };
    let err = open_err(&path, &opts);
    assert!(matches!(err, SourceError::NoHeader { .. }), "{err:?}");
    assert!(err.to_string().contains("short.xlsx"));
}

/// A workbook whose dates are serial numbers, optionally switched to the 1904 date system by
/// rewriting `xl/workbook.xml` (rust_xlsxwriter cannot write 1904 workbooks itself).
fn serial_dates(date1904: bool) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let written = sheet
        .write_string(0, 0, "Est. close date")
        .and_then(|s| s.write_number_with_format(1, 0, 44000.0, &date_format));
    written.unwrap_or_else(|e| panic!("{e}"));
    let bytes = buffer(workbook);
    if date1904 {
        rewrite_entry(&bytes, "xl/workbook.xml", |xml| {
            xml.replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
        })
    } else {
        bytes
    }
}

/// Copy a zip archive, passing one entry's text through `edit`.
fn rewrite_entry(bytes: &[u8], name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"));
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap_or_else(|e| panic!("{e}"));
        let entry_name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{e}"));
        if entry_name == name {
            assert!(text.contains("<workbookPr"), "{text}");
            text = edit(&text);
        }
        let options = zip::write::SimpleFileOptions::default();
        out.start_file(entry_name, options)
            .unwrap_or_else(|e| panic!("{e}"));
        out.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    out.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
}

#[test]
fn dates_in_the_1900_and_1904_systems() {
    let expected_1900: Date = date(1899, 12, 30)
        .checked_add(44000.days())
        .unwrap_or_default();
    let expected_1904: Date = date(1904, 1, 1)
        .checked_add(44000.days())
        .unwrap_or_default();
    assert_eq!(
        expected_1900,
        date(2020, 6, 18),
        "Excel shows 44000 as 2020-06-18"
    );
    for (date1904, expected) in [(false, expected_1900), (true, expected_1904)] {
        let (_dir, path) = save("dates.xlsx", &serial_dates(date1904));
        let rows = read_ok(&path, &SourceOptions::default());
        assert_eq!(
            rows[0].get("est close date"),
            Some(&Cell::Date(expected)),
            "1904: {date1904}"
        );
    }
}

#[test]
fn password_protected_workbook_is_named_as_such() {
    // An encrypted .xlsx is an OLE compound file holding an `EncryptedPackage` stream.
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.resize(1024, 0);
    bytes.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    bytes.resize(4096, 0);
    let (_dir, path) = save("protected.xlsx", &bytes);
    let err = open_err(&path, &SourceOptions::default());
    assert!(
        matches!(err, SourceError::PasswordProtected { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("protected.xlsx: the workbook is password-protected")
    );
}

#[test]
fn truncated_workbook_is_a_short_error() {
    let bytes = dynamics_export().unwrap_or_else(|e| panic!("{e}"));
    for cut in [0, 4, 100, bytes.len() / 2, bytes.len() - 10] {
        let (_dir, path) = save("cut.xlsx", bytes.get(..cut).unwrap_or_default());
        let message = match referral_sync::source::open(&path, &SourceOptions::default()) {
            Ok(rows) => {
                // A cut inside the central directory's tail may still read; it must not panic.
                let _ = rows.count();
                continue;
            }
            Err(e) => e.to_string(),
        };
        assert!(
            message.starts_with(&path.display().to_string()),
            "{message}"
        );
        assert!(message.len() < 300, "{message}");
    }
}

#[test]
fn dynamics_columns_without_data_rows_follow_dynamics_order() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let headers = [
        "(Do Not Modify) Lead",
        "(Do Not Modify) Row Checksum",
        "(Do Not Modify) Last Modified Date",
        "Topic",
    ];
    for (c, header) in headers.iter().enumerate() {
        sheet
            .write_string(0, c as u16, *header)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let (_dir, path) = save("empty-export.xlsx", &buffer(workbook));
    let source = referral_sync::source::open(&path, &SourceOptions::default());
    let headers = source.ok().and_then(|s| s.headers()).unwrap_or_default();
    assert_eq!(headers.index_of(dynamics::RECORD_ID), Some(4));
    assert_eq!(
        headers.names().get(4).map(String::as_str),
        Some(dynamics::RECORD_ID)
    );
    assert_eq!(
        headers.names().get(5).map(String::as_str),
        Some(dynamics::ROW_CHECKSUM)
    );
    assert_eq!(
        headers.names().get(6).map(String::as_str),
        Some(dynamics::MODIFIED_ON)
    );
}

/// A minimal OpenDocument spreadsheet, built by hand (rust_xlsxwriter writes only xlsx):
/// a hidden first sheet, then dates, floats and a time as ODS stores them.
fn ods_workbook() -> Vec<u8> {
    let cell = |kind: &str, attrs: &str, text: &str| {
        format!(
            r#"<table:table-cell office:value-type="{kind}" {attrs}><text:p>{text}</text:p></table:table-cell>"#
        )
    };
    let row = |cells: Vec<String>| format!("<table:table-row>{}</table:table-row>", cells.concat());
    let header = row(vec![
        cell("string", "", "Topic"),
        cell("string", "", "Close Date"),
        cell("string", "", "Amount"),
        cell("string", "", "Call length"),
    ]);
    let data = row(vec![
        cell("string", "", "Alpha"),
        cell("date", r#"office:date-value="2024-01-31""#, "01/31/24"),
        cell("float", r#"office:value="1200""#, "1200"),
        cell("time", r#"office:time-value="PT01H30M00S""#, "01:30:00"),
    ]);
    let timed = row(vec![
        cell("string", "", "Beta"),
        cell(
            "date",
            r#"office:date-value="2024-02-01T09:15:00""#,
            "02/01/24 09:15",
        ),
        cell("float", r#"office:value="0.5""#, "0.5"),
    ]);
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" office:version="1.2">
<office:automatic-styles><style:style style:name="hidden" style:family="table"><style:table-properties table:display="false"></style:table-properties></style:style></office:automatic-styles>
<office:body><office:spreadsheet>
<table:table table:name="Lists" table:style-name="hidden">{}</table:table>
<table:table table:name="Opportunities">{header}{data}{timed}</table:table>
</office:spreadsheet></office:body></office:document-content>"#,
        row(vec![cell("string", "", "secret")])
    );
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let entries = [
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet".to_owned()),
        ("content.xml", content),
        (
            "META-INF/manifest.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"#
                .to_owned(),
        ),
    ];
    for (name, text) in entries {
        out.start_file(name, stored)
            .unwrap_or_else(|e| panic!("{e}"));
        out.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    out.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
}

#[test]
fn ods_dates_numbers_and_hidden_sheets() {
    let (_dir, path) = save("opportunities.ods", &ods_workbook());
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(rows.len(), 2, "the hidden sheet is skipped");
    assert_eq!(text(&rows[0], "Topic"), "Alpha");
    assert_eq!(
        rows[0].get("Close Date"),
        Some(&Cell::Date(date(2024, 1, 31)))
    );
    assert_eq!(rows[0].get("Amount"), Some(&Cell::Int(1200)));
    assert_eq!(text(&rows[0], "Call length"), "PT01H30M00S");
    assert_eq!(
        rows[1].get("Close Date"),
        Some(&Cell::DateTime(date(2024, 2, 1).at(9, 15, 0, 0)))
    );
    assert_eq!(rows[1].get("Amount"), Some(&Cell::Float(0.5)));
    assert_eq!(rows[1].get("Call length"), Some(&Cell::Empty));
}
