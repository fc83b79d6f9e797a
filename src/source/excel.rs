//! Reads one worksheet of an Excel or OpenDocument workbook (xlsx, xlsm, xlsb, xls, ods) as
//! rows of typed cells.
//!
//! The sheet is `--sheet` (a name, or a 0-based index) or else the first visible worksheet;
//! hidden sheets such as Dynamics' `hiddenSheet` are skipped. The header row is
//! `--header-row` or the first of the sheet's first 20 rows made only of text that fills at
//! least half as many columns as the widest of those rows (so a title above the header is
//! passed over). Columns after the last non-empty header cell are ignored.
//!
//! Rows carry the sheet's own row number. Dynamics 365 "Export to Excel" columns get
//! stable aliases (see [`super::dynamics`]).
//!
//! An error cell such as `#N/A` stays in its row as `Cell::Error("#N/A")`: the mapping fails
//! the row, naming the column, when it reads that cell, so a `#N/A` in a helper column that
//! no mapping uses does not block the row.
//!
//! Memory: xlsx, xlsm and xlsb load only the sheet read; calamine's xls and ods readers
//! parse every sheet when the workbook is opened.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Range, Reader, Sheet, SheetType, SheetVisible, open_workbook_auto};

use super::cell::{data_to_cell, header_text};
use super::dynamics;
use super::{Cell, Headers, Row, RowError, RowSource, SourceError, SourceOptions};

/// How many rows the header detection and the Dynamics column detection look at.
const SCAN_ROWS: usize = 20;

/// A reader of one worksheet.
pub struct ExcelSource {
    file: Arc<PathBuf>,
    headers: Arc<Headers>,
    range: Range<Data>,
    /// The 0-based sheet row of the range's first row.
    origin_row: u32,
    /// Header columns read from the sheet; aliases follow them in `headers`.
    width: usize,
    /// The sheet column (relative to the range) of every column of `headers`.
    columns: Vec<usize>,
    /// The range row to read next.
    next: usize,
}

impl ExcelSource {
    /// Open a workbook, choose the sheet, load it and find its header row.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        check_not_encrypted(path)?;
        let mut workbook = open_workbook_auto(path).map_err(|e| workbook_error(path, e))?;
        let sheet = choose_sheet(path, workbook.sheets_metadata(), opts.sheet.as_deref())?;
        let range = workbook
            .worksheet_range(&sheet)
            .map_err(|e| workbook_error(path, e))?;
        let origin_row = range.start().map_or(0, |(row, _)| row);
        let no_header = || SourceError::NoHeader {
            path: path.to_path_buf(),
            sheet: Some(sheet.clone()),
        };
        let header = match opts.header_row {
            Some(row) => given_header(&range, origin_row, row),
            None => detect_header(&range),
        }
        .ok_or_else(no_header)?;
        let mut names = header_names(&range, header);
        let width = names.len();
        if width == 0 {
            return Err(no_header());
        }
        let mut columns: Vec<usize> = (0..width).collect();
        let sample: Vec<Vec<Cell>> = (header + 1..range.height())
            .take(SCAN_ROWS)
            .map(|r| (0..width).map(|c| cell_at(&range, r, c)).collect())
            .collect();
        for (alias, column) in dynamics::aliases(&names, &sample) {
            names.push(alias.to_owned());
            columns.push(column);
        }
        Ok(ExcelSource {
            file: Arc::new(path.to_path_buf()),
            headers: Arc::new(Headers::new(names)),
            range,
            origin_row,
            width,
            columns,
            next: header + 1,
        })
    }

    /// The row at range index `r`; `None` when every cell is empty.
    fn convert(&self, r: usize) -> Option<Row> {
        let values: Vec<Cell> = self
            .columns
            .iter()
            .map(|&c| cell_at(&self.range, r, c))
            .collect();
        if values.iter().take(self.width).all(|v| *v == Cell::Empty) {
            return None;
        }
        Some(Row {
            file: Arc::clone(&self.file),
            row: u64::from(self.origin_row) + r as u64 + 1,
            headers: Arc::clone(&self.headers),
            values,
            text: String::new(),
        })
    }
}

impl Iterator for ExcelSource {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.range.height() {
            let r = self.next;
            self.next += 1;
            if let Some(row) = self.convert(r) {
                return Some(Ok(row));
            }
        }
        None
    }
}

impl RowSource for ExcelSource {
    fn path(&self) -> &Path {
        &self.file
    }
    fn headers(&self) -> Option<Arc<Headers>> {
        Some(Arc::clone(&self.headers))
    }
}

/// The header row's names, up to the last non-empty one.
fn header_names(range: &Range<Data>, header: usize) -> Vec<String> {
    let mut names: Vec<String> = (0..range.width())
        .map(|c| range.get((header, c)).map(header_text).unwrap_or_default())
        .collect();
    let width = names
        .iter()
        .rposition(|n| !n.is_empty())
        .map_or(0, |i| i + 1);
    names.truncate(width);
    names
}

fn cell_at(range: &Range<Data>, r: usize, c: usize) -> Cell {
    range.get((r, c)).map_or(Cell::Empty, data_to_cell)
}

/// `--sheet` by exact name, then by name ignoring case, then as a 0-based index; else the
/// first visible worksheet.
fn choose_sheet(
    path: &Path,
    sheets: &[Sheet],
    wanted: Option<&str>,
) -> Result<String, SourceError> {
    let found = match wanted {
        Some(wanted) => sheets
            .iter()
            .find(|s| s.name == wanted)
            .or_else(|| sheets.iter().find(|s| s.name.eq_ignore_ascii_case(wanted)))
            .or_else(|| {
                wanted
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| sheets.get(i))
            }),
        None => sheets
            .iter()
            .find(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet),
    };
    found
        .map(|s| s.name.clone())
        .ok_or_else(|| SourceError::MissingSheet {
            path: path.to_path_buf(),
            sheet: wanted.unwrap_or("(first visible worksheet)").to_owned(),
            available: sheets.iter().map(|s| s.name.clone()).collect(),
        })
}

/// The range index of the 1-based sheet row `row`, if that row is inside the range.
fn given_header(range: &Range<Data>, origin_row: u32, row: u32) -> Option<usize> {
    let index = row.checked_sub(1)?.checked_sub(origin_row)? as usize;
    (index < range.height()).then_some(index)
}

/// The first row of the first [`SCAN_ROWS`] that holds only text and fills at least half as
/// many columns as the fullest of them.
fn detect_header(range: &Range<Data>) -> Option<usize> {
    let rows: Vec<(usize, bool)> = range
        .rows()
        .take(SCAN_ROWS)
        .map(|cells| {
            let filled = cells.iter().filter(|d| !is_blank(d)).count();
            let text = cells
                .iter()
                .all(|d| is_blank(d) || matches!(d, Data::String(_)));
            (filled, text)
        })
        .collect();
    let widest = rows.iter().map(|(filled, _)| *filled).max()?;
    let needed = widest.div_ceil(2).max(1);
    rows.iter()
        .position(|&(filled, text)| text && filled >= needed)
}

fn is_blank(data: &Data) -> bool {
    match data {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        Data::Int(_)
        | Data::Float(_)
        | Data::Bool(_)
        | Data::DateTime(_)
        | Data::DateTimeIso(_)
        | Data::DurationIso(_)
        | Data::Error(_) => false,
    }
}

/// An encrypted Office Open XML workbook is not a zip but an OLE compound file holding an
/// `EncryptedPackage` stream; say so plainly instead of reporting a zip error.
fn check_not_encrypted(path: &Path) -> Result<(), SourceError> {
    const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    let io_err = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut magic = [0u8; 8];
    let mut file = File::open(path).map_err(io_err)?;
    if file.read_exact(&mut magic).is_err() || magic != OLE_MAGIC {
        return Ok(());
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err)?;
    let name: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if bytes.windows(name.len()).any(|w| w == name.as_slice()) {
        return Err(SourceError::PasswordProtected {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Turn calamine's error into a short, specific one.
fn workbook_error(path: &Path, err: calamine::Error) -> SourceError {
    use calamine::{Error, OdsError, XlsError, XlsbError, XlsxError};
    let path = path.to_path_buf();
    match err {
        Error::Io(source) => SourceError::Io { path, source },
        Error::Xlsx(XlsxError::Password)
        | Error::Xlsb(XlsbError::Password)
        | Error::Xls(XlsError::Password)
        | Error::Ods(OdsError::Password) => SourceError::PasswordProtected { path },
        Error::Xlsx(XlsxError::Zip(e))
        | Error::Ods(OdsError::Zip(e))
        | Error::Xlsb(XlsbError::Zip(e)) => SourceError::Truncated {
            path,
            line: None,
            detail: format!("not a readable zip archive ({e})"),
        },
        other => SourceError::Workbook {
            path,
            message: other.to_string(),
        },
    }
}
