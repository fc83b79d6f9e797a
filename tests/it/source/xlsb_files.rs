//! Binary workbooks (.xlsb), streamed like .xlsx: no writer for them is at hand, so the
//! workbooks are put together here from BIFF12 records (MS-XLSB): a hidden first sheet, a
//! title row above the header, shared and inline strings, RK and real numbers, booleans,
//! error cells, blank rows, and more rows than the reader thread's channel holds.

use std::io::{Cursor, Write};

use referral_sync::source::{Cell, SourceOptions};

use super::excel_files::save;
use super::excel_stream::{
    MANY, assert_agrees_with_worksheet_range, assert_breaks_off_with_a_row_error,
};
use super::read_ok;

/// One record: its type and length as 7-bit groups, then its body.
fn record(out: &mut Vec<u8>, typ: u16, body: &[u8]) {
    if typ < 0x80 {
        out.push(typ as u8);
    } else {
        out.push((typ & 0x7F) as u8 | 0x80);
        out.push((typ >> 7) as u8 & 0x7F);
    }
    let mut len = body.len();
    loop {
        let group = (len & 0x7F) as u8;
        len >>= 7;
        if len == 0 {
            out.push(group);
            break;
        }
        out.push(group | 0x80);
    }
    out.extend_from_slice(body);
}

/// An XLWideString: a u32 count of UTF-16 units, then the units.
fn wide(text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut out = (units.len() as u32).to_le_bytes().to_vec();
    out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    out
}

/// A cell record's body: column, style 0, then the value's bytes.
fn cell(column: u32, value: &[u8]) -> Vec<u8> {
    let mut body = column.to_le_bytes().to_vec();
    body.extend(0u32.to_le_bytes());
    body.extend_from_slice(value);
    body
}

const STRINGS: [&str; 3] = ["Topic", "Amount", "Status"];

/// The worksheet: a title, the header (shared strings), then `rows` rows of values; with
/// `bad_string`, that row's first cell points past the end of the shared-string table.
fn sheet(rows: u32, bad_string: Option<u32>) -> Vec<u8> {
    let mut out = Vec::new();
    record(&mut out, 0x0081, &[]);
    let dimension: Vec<u8> = [0, rows + 1, 0, 3]
        .iter()
        .flat_map(|v: &u32| v.to_le_bytes())
        .collect();
    record(&mut out, 0x0094, &dimension);
    record(&mut out, 0x0091, &[]);
    let row = |out: &mut Vec<u8>, r: u32| record(out, 0x0000, &[r.to_le_bytes(), [0; 4]].concat());
    row(&mut out, 0);
    record(
        &mut out,
        0x0006,
        &cell(0, &wide("Opportunities, exported by admin")),
    );
    row(&mut out, 1);
    for (c, _) in STRINGS.iter().enumerate() {
        record(&mut out, 0x0007, &cell(c as u32, &(c as u32).to_le_bytes()));
    }
    for r in 2..rows + 2 {
        if r % 250 == 0 {
            continue;
        }
        row(&mut out, r);
        if bad_string == Some(r + 1) {
            record(&mut out, 0x0007, &cell(0, &99u32.to_le_bytes()));
        }
        record(
            &mut out,
            0x0006,
            &cell(0, &wide(&format!("topic {}", r + 1))),
        );
        if r % 2 == 0 {
            // An RK integer: the value shifted left by two, bit 1 set.
            record(&mut out, 0x0002, &cell(1, &((r << 2) | 2).to_le_bytes()));
        } else {
            record(
                &mut out,
                0x0005,
                &cell(1, &(f64::from(r) + 0.5).to_le_bytes()),
            );
        }
        match r % 3 {
            0 => record(&mut out, 0x0004, &cell(2, &[1])),
            1 => record(&mut out, 0x0003, &cell(2, &[0x2A])),
            _ => record(&mut out, 0x0001, &cell(2, &[])),
        }
    }
    record(&mut out, 0x0092, &[]);
    record(&mut out, 0x0082, &[]);
    out
}

/// How to spoil the data sheet.
#[derive(Clone, Copy)]
enum Damage {
    None,
    /// Keep this share of its bytes.
    Cut(f64),
    /// A shared-string index out of range in this row (calamine panics on it).
    BadString(u32),
}

/// A workbook with a hidden sheet and the data sheet.
fn workbook(rows: u32, damage: Damage) -> Vec<u8> {
    let mut book = Vec::new();
    for (state, id, rel, name) in [
        (1u32, 1u32, "rId1", "hiddenSheet"),
        (0, 2, "rId2", "Opportunities"),
    ] {
        let body = [
            state.to_le_bytes().to_vec(),
            id.to_le_bytes().to_vec(),
            wide(rel),
            wide(name),
        ]
        .concat();
        record(&mut book, 0x009C, &body);
    }
    record(&mut book, 0x0090, &[]);
    record(&mut book, 0x009D, &[]);
    let mut strings = Vec::new();
    let count = (STRINGS.len() as u32).to_le_bytes();
    record(&mut strings, 0x009F, &[count, count].concat());
    for text in STRINGS {
        record(&mut strings, 0x0013, &[vec![0], wide(text)].concat());
    }
    let bad_string = match damage {
        Damage::BadString(row) => Some(row),
        Damage::None | Damage::Cut(_) => None,
    };
    let mut data = sheet(rows, bad_string);
    if let Damage::Cut(share) = damage {
        data.truncate((data.len() as f64 * share) as usize);
    }
    let rels = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="worksheets/sheet1.bin"/>
<Relationship Id="rId2" Target="worksheets/sheet2.bin"/>
</Relationships>"#;
    let entries: [(&str, Vec<u8>); 5] = [
        ("xl/_rels/workbook.bin.rels", rels.as_bytes().to_vec()),
        ("xl/workbook.bin", book),
        ("xl/sharedStrings.bin", strings),
        ("xl/worksheets/sheet1.bin", sheet(0, None)),
        ("xl/worksheets/sheet2.bin", data),
    ];
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        let options = zip::write::SimpleFileOptions::default();
        out.start_file(name, options)
            .unwrap_or_else(|e| panic!("{e}"));
        out.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
    }
    out.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
}

#[test]
fn xlsb_sheet_streams_typed_cells_in_order() {
    let (_dir, path) = save("opportunities.xlsb", &workbook(MANY, Damage::None));
    let rows = read_ok(&path, &SourceOptions::default());
    assert_eq!(
        rows.len(),
        MANY as usize - 12,
        "every row but the blank ones"
    );
    let first = rows.first().unwrap_or_else(|| panic!("no rows"));
    assert_eq!(first.row, 3, "the header is row 2, below the title");
    assert_eq!(first.headers.names(), STRINGS);
    assert_eq!(
        first.get("Topic"),
        Some(&Cell::String("topic 3".to_owned()))
    );
    assert_eq!(first.get("Amount"), Some(&Cell::Int(2)));
    assert_eq!(first.get("Status"), Some(&Cell::Empty));
    let second = rows.get(1).unwrap_or_else(|| panic!("one row"));
    assert_eq!(second.get("Amount"), Some(&Cell::Float(3.5)));
    assert_eq!(second.get("Status"), Some(&Cell::Bool(true)));
    let third = rows.get(2).unwrap_or_else(|| panic!("two rows"));
    assert_eq!(third.get("Status"), Some(&Cell::Error("#N/A".to_owned())));
    assert!(
        rows.windows(2).all(|w| w[0].row < w[1].row),
        "in sheet order"
    );
    assert_agrees_with_worksheet_range(&path);
}

#[test]
fn xlsb_sheet_cut_off_mid_stream_is_a_row_error_naming_the_file() {
    let (_dir, path) = save("cut.xlsb", &workbook(MANY, Damage::Cut(0.6)));
    assert_breaks_off_with_a_row_error(&path);
}

#[test]
fn a_record_calamine_panics_on_is_a_row_error_or_an_open_error() {
    // Past the first rows: the rows before it, then a row error, not a panic.
    let (_dir, path) = save("bad-string.xlsb", &workbook(MANY, Damage::BadString(2002)));
    let results = referral_sync::source::open(&path, &SourceOptions::default())
        .map(|rows| rows.collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("cannot open: {e}"));
    let last = results.last().and_then(|r| r.as_ref().err());
    let error = last.unwrap_or_else(|| panic!("no row error at the end"));
    // It names the first row not handed out: row 2000, still being read when the bad cell
    // of row 2002 came (row 2001 is blank), might have had more cells.
    assert_eq!(error.row, 2000, "{error}");
    assert!(error.to_string().contains("malformed record"), "{error}");
    let good = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(good, 1997 - 7, "rows 3 to 1999 but the blank ones");
    // Among the first rows: the workbook cannot be opened.
    let (_dir, path) = save(
        "bad-string-early.xlsb",
        &workbook(MANY, Damage::BadString(5)),
    );
    match referral_sync::source::open(&path, &SourceOptions::default()) {
        Ok(_) => panic!("opened a workbook whose reader fails"),
        Err(e) => assert!(e.to_string().contains("malformed record"), "{e}"),
    }
}
