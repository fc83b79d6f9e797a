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
//! Memory: xlsx, xlsm and xlsb sheets are streamed, cell by cell, by a reader thread
//! ([`super::excel_stream`]), so rows cost the same however long the sheet is; what stays is
//! the workbook's shared-string table, which calamine loads when the workbook is opened.
//! calamine's xls and ods readers parse every sheet when the workbook is opened.
//!
//! A sheet that breaks off part-way (a cut-off or corrupt workbook) fails `open` when the
//! break is among the rows read to find the header; later, it yields the rows before the
//! break, then one row error naming the file and row, and reading stops. So does a sheet
//! whose rows are stored out of order past those first rows (Excel never writes one).

use std::fs::File;
use std::io::{BufReader, Read};
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use calamine::{
    Data, DataRef, Range, Reader, Sheet, SheetType, SheetVisible, Sheets, UsedCells, Xlsb, Xlsx,
    XlsxError, open_workbook_auto,
};

use super::cell::borrow_data;
use super::excel_stream::{AHEAD, CellStream, Message, NextCell, SheetPlan, read_sheet};
use super::{Headers, Row, RowError, RowSource, SourceError, SourceOptions};

/// A reader of one worksheet. The rows are read by a thread of their own (see
/// [`super::excel_stream`]); dropping the source stops and waits for that thread.
pub struct ExcelSource {
    file: Arc<PathBuf>,
    headers: Arc<Headers>,
    messages: Receiver<Message>,
    batch: std::vec::IntoIter<Row>,
    /// The sheet row number of the last row handed out.
    last_row: u64,
    /// Set once the reader thread said it finished or stopped.
    ended: bool,
    reader: Option<JoinHandle<()>>,
}

/// The sheet's cells, and who holds them while the thread reads them.
enum Cells {
    Xlsx(Xlsx<BufReader<File>>),
    Xlsb(Xlsb<BufReader<File>>),
    /// An xls or ods sheet, which calamine loads whole.
    Loaded(Range<Data>),
}

impl ExcelSource {
    /// Open a workbook, choose the sheet, start reading it and find its header row.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        check_not_encrypted(path)?;
        super::shared_strings::check(path)?;
        let workbook = open_workbook_auto(path).map_err(|e| workbook_error(path, e))?;
        let sheet = choose_sheet(path, workbook.sheets_metadata(), opts.sheet.as_deref())?;
        let cells = Cells::of(path, workbook, &sheet)?;
        let first_column = match &cells {
            Cells::Loaded(range) => range.start().map(|(_, column)| column),
            Cells::Xlsx(_) | Cells::Xlsb(_) => None,
        };
        let file = Arc::new(path.to_path_buf());
        let plan = SheetPlan {
            file: Arc::clone(&file),
            sheet,
            header_row: opts.header_row,
            first_column,
            describe: workbook_error,
        };
        let (sender, messages) = sync_channel(AHEAD);
        let reader = std::thread::Builder::new()
            .name("excel-sheet".to_owned())
            .spawn(move || cells.read(&plan, &sender))
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let mut source = ExcelSource {
            file,
            headers: Arc::new(Headers::default()),
            messages,
            batch: Vec::new().into_iter(),
            last_row: 0,
            ended: false,
            reader: Some(reader),
        };
        source.headers = match source.messages.recv() {
            Ok(Message::Opened(opened)) => opened?,
            Ok(_) | Err(_) => return Err(source.failed_to_start()),
        };
        Ok(source)
    }

    /// The error when the reader thread ended without saying why (it panicked).
    fn failed_to_start(&mut self) -> SourceError {
        self.stop();
        SourceError::Workbook {
            path: self.file.as_ref().clone(),
            message: "the sheet reader stopped unexpectedly".to_owned(),
        }
    }

    /// Tell the reader thread nobody listens any more, and wait for it to end.
    fn stop(&mut self) {
        let (_, closed) = sync_channel(0);
        drop(std::mem::replace(&mut self.messages, closed));
        if let Some(reader) = self.reader.take() {
            // A thread that panicked has already been reported as a row error or open error.
            let _ = reader.join();
        }
    }
}

impl Iterator for ExcelSource {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(row) = self.batch.next() {
                self.last_row = row.row;
                return Some(Ok(row));
            }
            if self.ended {
                return None;
            }
            match self.messages.recv() {
                Ok(Message::Rows(rows)) => self.batch = rows.into_iter(),
                Ok(Message::Opened(_)) => {}
                Ok(Message::Finished) => self.ended = true,
                Ok(Message::Stopped(error)) => {
                    self.ended = true;
                    return Some(Err(error));
                }
                Err(_) => {
                    self.ended = true;
                    return Some(Err(RowError {
                        file: Arc::clone(&self.file),
                        row: self.last_row + 1,
                        column: None,
                        message: "the sheet reader stopped unexpectedly; rows from here on \
                                  were not read"
                            .to_owned(),
                    }));
                }
            }
        }
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

impl Drop for ExcelSource {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Cells {
    /// The workbook to stream `sheet` from, or the sheet loaded whole (xls, ods).
    fn of(
        path: &Path,
        workbook: Sheets<BufReader<File>>,
        sheet: &str,
    ) -> Result<Self, SourceError> {
        match workbook {
            Sheets::Xlsx(xlsx) => Ok(Cells::Xlsx(xlsx)),
            Sheets::Xlsb(xlsb) => Ok(Cells::Xlsb(xlsb)),
            mut whole @ (Sheets::Xls(_) | Sheets::Ods(_)) => whole
                .worksheet_range(sheet)
                .map(Cells::Loaded)
                .map_err(|e| workbook_error(path, e)),
        }
    }

    /// The reader thread's work: stream the sheet's cells into rows.
    fn read(self, plan: &SheetPlan, out: &std::sync::mpsc::SyncSender<Message>) {
        let failed = |e: calamine::Error| {
            let _ = out.send(Message::Opened(Err((plan.describe)(&plan.file, e))));
        };
        match self {
            Cells::Xlsx(mut xlsx) => match xlsx.worksheet_cells_reader(&plan.sheet) {
                Ok(mut cells) => {
                    let next = || cells.next_cell().map_err(calamine::Error::Xlsx);
                    read_sheet(&mut Streamed::new(next), plan, out);
                }
                // A chart sheet: no cells, so no header (as calamine's `worksheet_range`).
                Err(XlsxError::NotAWorksheet(_)) => read_sheet(&mut NoCells, plan, out),
                Err(e) => failed(calamine::Error::Xlsx(e)),
            },
            Cells::Xlsb(mut xlsb) => match xlsb.worksheet_cells_reader(&plan.sheet) {
                Ok(mut cells) => {
                    let next = || cells.next_cell().map_err(calamine::Error::Xlsb);
                    read_sheet(&mut Streamed::new(next), plan, out);
                }
                Err(e) => failed(calamine::Error::Xlsb(e)),
            },
            Cells::Loaded(range) => {
                let mut cells = LoadedCells {
                    start: range.start().unwrap_or_default(),
                    cells: range.used_cells(),
                };
                read_sheet(&mut cells, plan, out);
            }
        }
    }
}

/// Why reading stopped when calamine failed on a cell instead of returning an error.
const MALFORMED: &str = "the workbook reader failed on a malformed record";

/// A cell reader of calamine's (its xlsb reader's type is not public), as a [`CellStream`].
struct Streamed<'a, F> {
    next: F,
    borrows: PhantomData<DataRef<'a>>,
}

impl<'a, F> Streamed<'a, F>
where
    F: FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, calamine::Error>,
{
    fn new(next: F) -> Self {
        Streamed {
            next,
            borrows: PhantomData,
        }
    }
}

impl<'a, F> CellStream for Streamed<'a, F>
where
    F: FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, calamine::Error>,
{
    fn next_value(&mut self) -> NextCell<'_> {
        // calamine indexes some records without checking them (an xlsb shared-string index
        // past the table panics): such a cell ends reading like any unreadable cell. The
        // reader is not used again after that, so its state after the panic does not matter.
        let next = std::panic::catch_unwind(AssertUnwindSafe(&mut self.next));
        let cell = next.unwrap_or(Err(calamine::Error::Msg(MALFORMED)))?;
        // calamine's `Cell` lends its value only; inline strings are copied once here.
        Ok(cell.map(|c| (c.get_position(), c.get_value().clone())))
    }
}

/// The used cells of a loaded sheet, at their sheet positions.
struct LoadedCells<'a> {
    start: (u32, u32),
    cells: UsedCells<'a, Data>,
}

impl CellStream for LoadedCells<'_> {
    fn next_value(&mut self) -> NextCell<'_> {
        let Some((r, c, data)) = self.cells.next() else {
            return Ok(None);
        };
        // Range positions fit in u32: the range was built from u32 sheet positions.
        let at = (self.start.0 + r as u32, self.start.1 + c as u32);
        Ok(Some((at, borrow_data(data))))
    }
}

/// A sheet without cells (a chart sheet).
struct NoCells;

impl CellStream for NoCells {
    fn next_value(&mut self) -> NextCell<'_> {
        Ok(None)
    }
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
