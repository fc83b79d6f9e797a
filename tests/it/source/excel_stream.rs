//! Streaming workbook reading: sheets larger than the reader thread's channel, a reader
//! dropped part-way, sheets that break off mid-stream, and agreement, cell for cell, with
//! calamine's whole-sheet `worksheet_range` on the shipped samples and on workbooks holding
//! every kind of value (shared strings, and the inline strings of a low-memory writer).

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};
use referral_sync::source::{self, Cell, Row, SourceOptions, dynamics};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, Worksheet, XlsxError};

use super::excel_files::{buffer, save};
use super::read_all;

/// More rows than the reader thread may have waiting in its channel (8 batches of 64).
pub(super) const MANY: u32 = 3000;
const SHEET: &str = "xl/worksheets/sheet1.xml";

/// `rows` data rows under a header, every 500th row left blank; the `Topic` is `topic <row>`.
fn numbered(rows: u32, low_memory: bool) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = if low_memory {
        workbook.add_worksheet_with_constant_memory()?
    } else {
        workbook.add_worksheet()
    };
    for (c, header) in ["Topic", "Amount", "Won"].iter().enumerate() {
        sheet.write_string(0, c as u16, *header)?;
    }
    for r in 1..=rows {
        if r % 500 == 0 {
            continue;
        }
        sheet.write_string(r, 0, format!("topic {}", r + 1))?;
        sheet.write_number(r, 1, f64::from(r) * 1.5)?;
        sheet.write_boolean(r, 2, r % 2 == 0)?;
    }
    Ok(buffer(workbook))
}

fn numbered_file(name: &str, rows: u32, low_memory: bool) -> (tempfile::TempDir, PathBuf) {
    let bytes = numbered(rows, low_memory).unwrap_or_else(|e| panic!("{e}"));
    save(name, &bytes)
}

#[test]
fn a_sheet_bigger_than_the_channel_reads_completely_and_in_order() {
    let (_dir, path) = numbered_file("many.xlsx", MANY, false);
    let results = read_all(&path, &SourceOptions::default());
    let rows: Vec<&Row> = results
        .iter()
        .map(|r| r.as_ref().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let expected: Vec<u64> = (2..=u64::from(MANY) + 1)
        .filter(|n| (n - 1) % 500 != 0)
        .collect();
    let numbers: Vec<u64> = rows.iter().map(|r| r.row).collect();
    assert_eq!(numbers, expected, "every non-blank row, in sheet order");
    for row in rows {
        assert_eq!(
            row.get("Topic"),
            Some(&Cell::String(format!("topic {}", row.row)))
        );
    }
}

#[test]
fn dropping_the_source_part_way_ends_the_reader_thread() {
    let (_dir, path) = numbered_file("dropped.xlsx", MANY, true);
    let mut rows = source::open(&path, &SourceOptions::default())
        .unwrap_or_else(|e| panic!("cannot open: {e}"));
    let first: Vec<u64> = rows
        .by_ref()
        .take(3)
        .filter_map(Result::ok)
        .map(|r| r.row)
        .collect();
    assert_eq!(first, [2, 3, 4]);
    // Dropping waits for the reader thread; with the thread blocked on a full channel this
    // would hang if the thread did not notice that nobody reads any more.
    drop(rows);
}

/// Copy a zip archive, passing the sheet's XML through `edit` and storing it as `method`.
fn rewrite_sheet(
    bytes: &[u8],
    method: zip::CompressionMethod,
    edit: impl Fn(Vec<u8>) -> Vec<u8>,
) -> Vec<u8> {
    rewrite_part(bytes, SHEET, method, edit)
}

/// Copy a zip archive, passing the part named `part` through `edit`, storing every part as
/// `method`.
pub(super) fn rewrite_part(
    bytes: &[u8],
    part: &str,
    method: zip::CompressionMethod,
    edit: impl Fn(Vec<u8>) -> Vec<u8>,
) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"));
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap_or_else(|e| panic!("{e}"));
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .unwrap_or_else(|e| panic!("{e}"));
        if name == part {
            data = edit(data);
        }
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        out.start_file(name, options)
            .unwrap_or_else(|e| panic!("{e}"));
        out.write_all(&data).unwrap_or_else(|e| panic!("{e}"));
    }
    out.finish().unwrap_or_else(|e| panic!("{e}")).into_inner()
}

/// Read a workbook that breaks off mid-sheet: rows in order, then one row error naming the
/// file and the row after the last good one, then nothing.
pub(super) fn assert_breaks_off_with_a_row_error(path: &Path) {
    let results = read_all(path, &SourceOptions::default());
    let (last, good) = results
        .split_last()
        .unwrap_or_else(|| panic!("no rows at all"));
    let error = match last {
        Err(error) => error,
        Ok(row) => panic!("read to the end (row {}), expected a row error", row.row),
    };
    let numbers: Vec<u64> = good
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|row| row.row)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert!(numbers.len() > 100, "the rows before the break are read");
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
    let after = numbers.last().copied().unwrap_or_default();
    assert!(error.row > after && error.row < u64::from(MANY), "{error}");
    assert_eq!(error.file.as_path(), path);
    let message = error.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(message.contains("truncated or corrupt"), "{message}");
}

#[test]
fn a_sheet_cut_off_mid_stream_is_a_row_error_naming_the_file() {
    let bytes = numbered(MANY, false).unwrap_or_else(|e| panic!("{e}"));
    let cut = rewrite_sheet(&bytes, zip::CompressionMethod::Deflated, |mut xml| {
        xml.truncate(xml.len() * 3 / 5);
        xml
    });
    let (_dir, path) = save("cut-sheet.xlsx", &cut);
    assert_breaks_off_with_a_row_error(&path);
}

#[test]
fn a_corrupt_compressed_sheet_is_a_row_error_naming_the_file() {
    let bytes = numbered(MANY, false).unwrap_or_else(|e| panic!("{e}"));
    let mut zipped = rewrite_sheet(&bytes, zip::CompressionMethod::Deflated, |xml| xml);
    let (start, size) = {
        let mut archive =
            zip::ZipArchive::new(Cursor::new(&zipped)).unwrap_or_else(|e| panic!("{e}"));
        let entry = archive.by_name(SHEET).unwrap_or_else(|e| panic!("{e}"));
        let start = entry
            .data_start()
            .unwrap_or_else(|| panic!("no data start"));
        (start as usize, entry.compressed_size() as usize)
    };
    let middle = start + size * 3 / 5;
    for byte in zipped.get_mut(middle..middle + 64).unwrap_or_default() {
        *byte ^= 0x5A;
    }
    let (_dir, path) = save("corrupt-sheet.xlsx", &zipped);
    assert_breaks_off_with_a_row_error(&path);
}

/// Whether the reader's cell is what calamine's whole-sheet value says, kind by kind.
fn agrees(data: &Data, cell: &Cell) -> bool {
    match (data, cell) {
        (Data::Empty, Cell::Empty) => true,
        (Data::String(s), Cell::Empty) => s.is_empty(),
        (Data::String(s), Cell::String(t)) => s == t,
        (Data::Int(i), Cell::Int(j)) => i == j,
        // Integral floats are integers (so `1200.0` prints as `1200`).
        (Data::Float(f), Cell::Int(i)) => *i as f64 == *f,
        (Data::Float(f), Cell::Float(g)) => f.to_bits() == g.to_bits() && f.fract() != 0.0,
        (Data::Bool(a), Cell::Bool(b)) => a == b,
        (Data::DateTime(dt), Cell::Date(d)) => {
            let (y, m, day, h, min, s, ms) = dt.to_ymd_hms_milli();
            (h, min, s, ms) == (0, 0, 0, 0) && d.to_string() == format!("{y}-{m:02}-{day:02}")
        }
        (Data::DateTime(dt), Cell::DateTime(t)) => {
            let (y, m, d, h, min, s, ms) = dt.to_ymd_hms_milli();
            (h, min, s, ms) != (0, 0, 0, 0)
                && t.to_string()
                    .starts_with(&format!("{y}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}"))
        }
        (Data::DateTime(dt), Cell::String(text)) => {
            (dt.is_duration() || dt.as_f64() < 1.0) && text.contains(':')
        }
        (Data::Error(e), Cell::Error(text)) => e.to_string() == *text,
        _ => false,
    }
}

/// Read `path` with the source and with `worksheet_range`, and check that they agree: the
/// same rows (every row below the header with a value under a header), the same numbers,
/// and every cell the same.
pub(super) fn assert_agrees_with_worksheet_range(path: &Path) {
    let rows: Vec<Row> = read_all(path, &SourceOptions::default())
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let headers = source::open(path, &SourceOptions::default())
        .ok()
        .and_then(|s| s.headers())
        .unwrap_or_else(|| panic!("no headers"));
    let mut workbook = open_workbook_auto(path).unwrap_or_else(|e| panic!("{e}"));
    let sheet = workbook
        .sheets_metadata()
        .iter()
        .find(|s| s.visible == calamine::SheetVisible::Visible)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let range = workbook
        .worksheet_range(&sheet)
        .unwrap_or_else(|e| panic!("{e}"));
    let (top, _) = range.start().unwrap_or_default();
    let aliases = [
        dynamics::RECORD_ID,
        dynamics::ROW_CHECKSUM,
        dynamics::MODIFIED_ON,
    ];
    let names: Vec<&String> = headers
        .names()
        .iter()
        .filter(|n| !aliases.contains(&n.as_str()))
        .collect();
    let header = range
        .rows()
        .position(|cells| {
            names.iter().zip(cells).all(|(name, data)| match data {
                Data::String(s) => s.trim() == name.as_str(),
                _ => name.is_empty(),
            })
        })
        .unwrap_or_else(|| panic!("{}: no header row {names:?}", path.display()));
    let width = range
        .rows()
        .nth(header)
        .map(|cells| {
            cells
                .iter()
                .rposition(|d| !matches!(d, Data::Empty))
                .map_or(0, |i| i + 1)
        })
        .unwrap_or_default();
    let expected: Vec<(u64, &[Data])> = range
        .rows()
        .enumerate()
        .skip(header + 1)
        .map(|(i, cells)| {
            (
                u64::from(top) + i as u64 + 1,
                cells.get(..width).unwrap_or(cells),
            )
        })
        .filter(|(_, cells)| cells.iter().any(|d| !agrees(d, &Cell::Empty)))
        .collect();
    assert_eq!(rows.len(), expected.len(), "{}: rows", path.display());
    for (row, (number, cells)) in rows.iter().zip(expected) {
        assert_eq!(row.row, number, "{}", path.display());
        for (c, data) in cells.iter().enumerate() {
            let cell = row.values.get(c).unwrap_or(&Cell::Empty);
            assert!(
                agrees(data, cell),
                "{} row {number} column {c}: {data:?} read as {cell:?}",
                path.display()
            );
        }
    }
}

#[test]
fn streaming_agrees_with_worksheet_range_on_the_samples() {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let entries = std::fs::read_dir(&samples).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
        {
            assert_agrees_with_worksheet_range(&path);
            seen += 1;
        }
    }
    assert!(seen > 0, "no samples/*.xlsx");
}

/// A title row, then a header and rows holding every kind of value, starting in column B.
fn every_kind(sheet: &mut Worksheet) -> Result<(), XlsxError> {
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let clock = Format::new().set_num_format("hh:mm");
    let span = Format::new().set_num_format("[h]:mm:ss");
    sheet.write_string(0, 1, "Every kind of value")?;
    let headers = [
        "Text", "Int", "Float", "Bool", "Date", "Stamp", "Time", "Span", "Error",
    ];
    for (c, header) in headers.iter().enumerate() {
        sheet.write_string(1, c as u16 + 1, *header)?;
    }
    for r in 2..60u32 {
        let n = f64::from(r);
        sheet.write_string(r, 1, format!("  text {r} é ✓ "))?;
        sheet.write_number(r, 2, n * 1000.0)?;
        sheet.write_number(r, 3, n / 7.0)?;
        sheet.write_boolean(r, 4, r % 3 == 0)?;
        let day = ExcelDateTime::from_ymd(2024, 1, 1)?;
        sheet.write_number_with_format(r, 5, day.to_excel() + n, &date)?;
        sheet.write_number_with_format(r, 6, day.to_excel() + n + 0.3125, &stamp)?;
        sheet.write_number_with_format(r, 7, n / 100.0, &clock)?;
        sheet.write_number_with_format(r, 8, n / 10.0 + 1.0, &span)?;
        let formula = Formula::new("=1/0").set_result("#DIV/0!");
        sheet.write_formula(r, 9, formula)?;
        if r % 10 == 0 {
            sheet.write_string(r, 1, "")?;
        }
    }
    sheet.write_string(70, 1, "after a gap")?;
    Ok(())
}

#[test]
fn streaming_agrees_with_worksheet_range_on_every_kind_of_value() {
    for low_memory in [false, true] {
        let mut workbook = Workbook::new();
        let sheet = if low_memory {
            workbook.add_worksheet_with_constant_memory()
        } else {
            Ok(workbook.add_worksheet())
        };
        sheet.and_then(every_kind).unwrap_or_else(|e| panic!("{e}"));
        let (_dir, path) = save("every-kind.xlsx", &buffer(workbook));
        assert_agrees_with_worksheet_range(&path);
    }
}

/// Move the sheet XML's `<row r="from">` element to just before `<row r="before">`.
fn move_row(xml: Vec<u8>, from: u32, before: u32) -> Vec<u8> {
    let text = String::from_utf8(xml).unwrap_or_else(|e| panic!("{e}"));
    let find = |text: &str, n: u32| {
        let start = format!("<row r=\"{n}\"");
        text.match_indices(&start)
            .map(|(at, _)| at)
            .find(|at| matches!(text.as_bytes().get(at + start.len()), Some(b' ' | b'>')))
            .unwrap_or_else(|| panic!("no row {n}"))
    };
    let at = find(&text, from);
    let end = text[at..]
        .find("</row>")
        .map_or(text.len(), |e| at + e + "</row>".len());
    let row = text[at..end].to_owned();
    let mut rest = format!("{}{}", &text[..at], &text[end..]);
    rest.insert_str(find(&rest, before), &row);
    rest.into_bytes()
}

#[test]
fn rows_out_of_order_among_the_first_rows_are_put_in_order() {
    let bytes = numbered(MANY, false).unwrap_or_else(|e| panic!("{e}"));
    let moved = rewrite_sheet(&bytes, zip::CompressionMethod::Deflated, |xml| {
        move_row(xml, 4, 3)
    });
    let (_dir, path) = save("early-rows-swapped.xlsx", &moved);
    let numbers: Vec<u64> = read_all(&path, &SourceOptions::default())
        .into_iter()
        .map(|r| r.map(|row| row.row).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(numbers.get(..4), Some(&[2, 3, 4, 5][..]));
    assert_eq!(
        numbers.len(),
        MANY as usize - 6,
        "every row but the blank ones"
    );
}

#[test]
fn a_row_out_of_order_later_is_a_row_error_naming_it() {
    let bytes = numbered(MANY, false).unwrap_or_else(|e| panic!("{e}"));
    let moved = rewrite_sheet(&bytes, zip::CompressionMethod::Deflated, |xml| {
        move_row(xml, 2102, 2101)
    });
    let (_dir, path) = save("late-rows-swapped.xlsx", &moved);
    let results = read_all(&path, &SourceOptions::default());
    let last = results.last().and_then(|r| r.as_ref().err());
    let error = last.unwrap_or_else(|| panic!("no row error at the end"));
    assert_eq!(error.row, 2101);
    assert!(error.to_string().contains("after row 2102"), "{error}");
    let before = results.get(results.len().saturating_sub(2));
    assert_eq!(
        before.and_then(|r| r.as_ref().ok()).map(|r| r.row),
        Some(2100)
    );
}

#[test]
fn a_header_row_given_far_down_skips_the_rows_above() {
    let (_dir, path) = numbered_file("header-far-down.xlsx", MANY, false);
    let opts = SourceOptions {
        header_row: Some(101),
        ..SourceOptions::default()
    };
    let results = read_all(&path, &opts);
    let first = results.first().and_then(|r| r.as_ref().ok());
    let first = first.unwrap_or_else(|| panic!("no first row"));
    assert_eq!(first.row, 102);
    assert_eq!(first.headers.names(), ["topic 101", "150", "TRUE"]);
    assert_eq!(
        first.get("topic 101"),
        Some(&Cell::String("topic 102".to_owned()))
    );
}
