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

/// The worksheet: a title, the header (shared strings), then `rows` rows of values.
fn sheet(rows: u32) -> Vec<u8> {
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

/// A workbook with a hidden sheet and the data sheet; `cut` shortens the data sheet.
fn workbook(rows: u32, cut: Option<f64>) -> Vec<u8> {
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
    let mut data = sheet(rows);
    if let Some(cut) = cut {
        data.truncate((data.len() as f64 * cut) as usize);
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
        ("xl/worksheets/sheet1.bin", sheet(0)),
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
    let (_dir, path) = save("opportunities.xlsb", &workbook(MANY, None));
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
    let (_dir, path) = save("cut.xlsb", &workbook(MANY, Some(0.6)));
    assert_breaks_off_with_a_row_error(&path);
}
