//! The worksheet reader thread: turns a stream of cells in sheet order into rows, so that a
//! workbook's sheet is never held whole in memory.
//!
//! calamine's cell readers for xlsx and xlsb borrow the workbook, so the thread owns the
//! workbook and sends finished rows over a bounded channel; when the receiving
//! [`super::excel::ExcelSource`] is dropped, the next send fails and the thread ends. xls and
//! ods sheets are loaded whole by calamine anyway; their loaded cells take the same path, so
//! every format decides headers and rows the same way.
//!
//! The first [`SCAN_ROWS`] rows from the first non-empty one (and, with `--header-row`, every
//! row up to the header) plus the [`SCAN_ROWS`] rows below the header are held back to find
//! the header and judge the Dynamics columns; after that one row at a time is built. The
//! header's first column is the leftmost column used in those rows (a loaded sheet's
//! leftmost used column).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use calamine::DataRef;

use super::cell::{Kind, cell_of, header_text, kind_of};
use super::dynamics;
use super::{Cell, Headers, Row, RowError, SourceError};

/// How many rows the header detection and the Dynamics column detection look at.
const SCAN_ROWS: u32 = 20;
/// The header row found when the first rows hold none that looks like one.
const NONE: u32 = u32::MAX;
/// Rows handed over at a time (fewer hand-overs between the threads).
const BATCH: usize = 64;
/// Batches read ahead of the consumer: at most `BATCH * AHEAD` rows wait in the channel.
pub(super) const AHEAD: usize = 8;

/// What the reader thread tells the source, in this order: `Opened`, any number of `Rows`,
/// then `Stopped` or `Finished`.
pub(super) enum Message {
    /// The header was found (its names, aliases last) or the sheet cannot be read.
    Opened(Result<Arc<Headers>, SourceError>),
    Rows(Vec<Row>),
    /// Reading broke off at this row; nothing follows.
    Stopped(RowError),
    Finished,
}

/// The next cell of a sheet: `((row, column), value)`, 0-based; `None` at the end.
pub(super) type NextCell<'a> = Result<Option<((u32, u32), DataRef<'a>)>, calamine::Error>;

/// A sheet's cells in sheet order.
pub(super) trait CellStream {
    fn next_value(&mut self) -> NextCell<'_>;
}

/// What the thread needs to know about the sheet besides its cells.
pub(super) struct SheetPlan {
    pub file: Arc<PathBuf>,
    pub sheet: String,
    /// `--header-row`, 1-based.
    pub header_row: Option<u32>,
    /// The leftmost used column, when the sheet is loaded whole and so known in advance.
    pub first_column: Option<u32>,
    /// Turns calamine's error into the workbook error `open` reports.
    pub describe: fn(&std::path::Path, calamine::Error) -> SourceError,
}

/// One sheet row as it was read.
struct SheetRow {
    index: u32,
    cells: Vec<(u32, Cell, Kind)>,
}

impl SheetRow {
    fn new(index: u32) -> Self {
        SheetRow {
            index,
            cells: Vec::new(),
        }
    }

    /// Add a cell; a second value for the same column replaces the first, as in a loaded sheet.
    fn put(&mut self, column: u32, cell: Cell, kind: Kind) {
        match self.cells.iter_mut().find(|(c, _, _)| *c == column) {
            Some(slot) => *slot = (column, cell, kind),
            None => self.cells.push((column, cell, kind)),
        }
    }

    fn merge(&mut self, other: SheetRow) {
        for (column, cell, kind) in other.cells {
            self.put(column, cell, kind);
        }
    }

    /// `(filled, only text)`: the cells that are not blank, and whether all of them are text.
    fn shape(&self) -> (usize, bool) {
        let filled = self.cells.iter().filter(|c| c.2 != Kind::Blank).count();
        let text = self.cells.iter().all(|c| c.2 != Kind::Other);
        (filled, text)
    }
}

/// Read the sheet and send its header, then its rows; return when done or nobody listens.
pub(super) fn read_sheet(cells: &mut dyn CellStream, plan: &SheetPlan, out: &SyncSender<Message>) {
    let cells = &mut Tracked {
        inner: cells,
        last: None,
    };
    let opened = match scan(cells, plan) {
        Ok(Some(scan)) => scan,
        Ok(None) => {
            let _ = out.send(Message::Opened(Err(no_header(plan))));
            return;
        }
        Err(e) => {
            let error = match (plan.describe)(&plan.file, e) {
                SourceError::Workbook { path, message } => SourceError::Workbook {
                    path,
                    message: format!("sheet {:?}, {}: {message}", plan.sheet, place(cells.last)),
                },
                other => other,
            };
            let _ = out.send(Message::Opened(Err(error)));
            return;
        }
    };
    let (layout, held, pending) = opened;
    if out
        .send(Message::Opened(Ok(Arc::clone(&layout.headers))))
        .is_err()
    {
        return;
    }
    let mut rows = Rows {
        layout,
        plan,
        out,
        batch: Vec::with_capacity(BATCH),
    };
    for row in held {
        if !rows.push(row) {
            return;
        }
    }
    let end = match pending {
        Some(first) => rows.stream(cells, first),
        None => Ok(()),
    };
    let last = match end {
        Ok(()) => rows.flush().then_some(Message::Finished),
        Err(stopped) => rows.flush().then_some(Message::Stopped(stopped)),
    };
    if let Some(last) = last {
        let _ = out.send(last);
    }
}

/// Remembers the position of the last cell read, to say where a sheet broke off.
struct Tracked<'c> {
    inner: &'c mut dyn CellStream,
    /// `(row, column)` of the last cell read, 0-based.
    last: Option<(u32, u32)>,
}

impl CellStream for Tracked<'_> {
    fn next_value(&mut self) -> NextCell<'_> {
        let next = self.inner.next_value();
        if let Ok(Some((at, _))) = &next {
            self.last = Some(*at);
        }
        next
    }
}

/// Where reading broke off: after the last cell read (`B7`), or at the first cell.
fn place(last: Option<(u32, u32)>) -> String {
    match last {
        Some((row, column)) => format!("after cell {}{}", column_name(column), u64::from(row) + 1),
        None => "at its first cell".to_owned(),
    }
}

/// The letters of a 0-based column: 0 is `A`, 26 is `AA`.
fn column_name(column: u32) -> String {
    let mut n = u64::from(column) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = u8::try_from((n - 1) % 26).unwrap_or(0);
        letters.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

fn no_header(plan: &SheetPlan) -> SourceError {
    SourceError::NoHeader {
        path: plan.file.as_ref().clone(),
        sheet: Some(plan.sheet.clone()),
    }
}

/// The header and column layout of the sheet.
struct Layout {
    headers: Arc<Headers>,
    /// The sheet column of the first header.
    first_column: u32,
    /// Header columns read from the sheet; aliases follow them.
    width: usize,
    /// For every alias, the header column it repeats.
    aliases: Vec<usize>,
}

/// What the scan found: the layout, the rows below the header read so far, and the first row
/// beyond them (its first cell already read), if any.
type Scanned = (Layout, Vec<SheetRow>, Option<SheetRow>);

/// Read the rows that decide the header, and decide it; `None` when there is no header.
fn scan(cells: &mut dyn CellStream, plan: &SheetPlan) -> Result<Option<Scanned>, calamine::Error> {
    let mut held: Vec<SheetRow> = Vec::new();
    let mut leftmost = plan.first_column.unwrap_or(u32::MAX);
    // The header is known once its row and the SCAN_ROWS below it are read.
    let mut header: Option<u32> = None;
    let pending = loop {
        let Some(((r, c), value)) = cells.next_value()? else {
            break None;
        };
        if matches!(value, DataRef::Empty) {
            continue;
        }
        leftmost = leftmost.min(c);
        if plan
            .header_row
            .is_some_and(|given| r.saturating_add(1) < given)
        {
            continue;
        }
        if header.is_none() {
            header = find_header(&held, plan.header_row, r);
        }
        let kind = kind_of(&value);
        let mut row = SheetRow::new(r);
        row.put(c, cell_of(value), kind);
        match header {
            Some(NONE) => return Ok(None),
            Some(h) if r > h.saturating_add(SCAN_ROWS) => break Some(row),
            _ => hold(&mut held, row),
        }
    };
    let header = match header.or_else(|| find_header(&held, plan.header_row, u32::MAX)) {
        Some(NONE) | None => return Ok(None),
        Some(h) => h,
    };
    let layout = match layout(&held, header, leftmost) {
        Some(layout) => layout,
        None => return Ok(None),
    };
    held.retain(|row| row.index > header);
    Ok(Some((layout, held, pending)))
}

/// Keep a cell's row in sheet order, joining it to the row it belongs to.
fn hold(held: &mut Vec<SheetRow>, row: SheetRow) {
    match held.binary_search_by_key(&row.index, |r| r.index) {
        Ok(at) => {
            if let Some(existing) = held.get_mut(at) {
                existing.merge(row);
            }
        }
        Err(at) => held.insert(at, row),
    }
}

/// The header's sheet row, once the rows read so far (all rows before row `next`) settle it.
fn find_header(held: &[SheetRow], given: Option<u32>, next: u32) -> Option<u32> {
    if let Some(given) = given {
        let index = given.checked_sub(1)?;
        return (next > index).then_some(index);
    }
    let first = held.first()?.index;
    let end = first.saturating_add(SCAN_ROWS);
    if next < end {
        return None;
    }
    let window: Vec<(u32, (usize, bool))> = held
        .iter()
        .take_while(|row| row.index < end)
        .map(|row| (row.index, row.shape()))
        .collect();
    let widest = window.iter().map(|(_, (filled, _))| *filled).max()?;
    let needed = widest.div_ceil(2).max(1);
    let found = window
        .iter()
        .find(|(_, (filled, text))| *text && *filled >= needed);
    // No header among the first rows: there is none, however much more is read.
    Some(found.map_or(NONE, |(index, _)| *index))
}

/// The header names from row `header` (up to the last non-empty one), with the Dynamics
/// aliases judged by the rows below it.
fn layout(held: &[SheetRow], header: u32, first_column: u32) -> Option<Layout> {
    let header_row = held.iter().find(|row| row.index == header)?;
    let mut names: Vec<String> = Vec::new();
    for (column, cell, _) in &header_row.cells {
        let Some(at) = column.checked_sub(first_column) else {
            continue;
        };
        let at = at as usize;
        if names.len() <= at {
            names.resize(at + 1, String::new());
        }
        if let Some(slot) = names.get_mut(at) {
            *slot = header_text(cell.clone());
        }
    }
    let width = names.iter().rposition(|n| !n.is_empty())? + 1;
    names.truncate(width);
    let sample: Vec<Vec<Cell>> = held
        .iter()
        .filter(|row| row.index > header && row.index <= header.saturating_add(SCAN_ROWS))
        .map(|row| values(row.cells.iter().cloned(), first_column, width))
        .collect();
    let mut aliases = Vec::new();
    for (alias, column) in dynamics::aliases(&names, &sample) {
        names.push(alias.to_owned());
        aliases.push(column);
    }
    Some(Layout {
        headers: Arc::new(Headers::new(names)),
        first_column,
        width,
        aliases,
    })
}

/// One cell per header column, from a row's `(column, cell, kind)` cells.
fn values(
    cells: impl Iterator<Item = (u32, Cell, Kind)>,
    first_column: u32,
    width: usize,
) -> Vec<Cell> {
    let mut values = vec![Cell::Empty; width];
    for (column, cell, _) in cells {
        let at = column.checked_sub(first_column).map(|c| c as usize);
        if let Some(slot) = at.and_then(|at| values.get_mut(at)) {
            *slot = cell;
        }
    }
    values
}

/// Builds rows past the scanned ones and sends them in batches.
struct Rows<'a> {
    layout: Layout,
    plan: &'a SheetPlan,
    out: &'a SyncSender<Message>,
    batch: Vec<Row>,
}

impl Rows<'_> {
    /// Read the rest of the sheet, starting with a row whose first cell is already read.
    /// `Err` names the row where reading broke off; `Ok` when the sheet ended or nobody listens.
    fn stream(&mut self, cells: &mut Tracked, first: SheetRow) -> Result<(), RowError> {
        let (first_column, width) = (self.layout.first_column, self.layout.width);
        let mut index = first.index;
        let mut current = values(first.cells.into_iter(), first_column, width);
        loop {
            let last = cells.last;
            let next = cells.next_value().map_err(|e| {
                let why = format!(
                    "sheet {:?}, {}: the sheet cannot be read from here on (truncated or \
                     corrupt workbook): {e}",
                    self.plan.sheet,
                    place(last)
                );
                self.broken(index, why)
            })?;
            let Some(((r, c), value)) = next else {
                self.push_values(index, current);
                return Ok(());
            };
            if matches!(value, DataRef::Empty) {
                continue;
            }
            if r != index {
                if r < index {
                    let why = format!(
                        "the sheet stores this row after row {}, and rows out of order cannot \
                         be streamed; save the workbook in Excel to put them in order",
                        u64::from(index) + 1
                    );
                    return Err(self.broken(r, why));
                }
                let done = std::mem::replace(&mut current, vec![Cell::Empty; width]);
                if !self.push_values(index, done) {
                    return Ok(());
                }
                index = r;
            }
            let at = c.checked_sub(first_column).map(|c| c as usize);
            if let Some(slot) = at.and_then(|at| current.get_mut(at)) {
                *slot = cell_of(value);
            }
        }
    }

    /// The error for reading that broke off at sheet row `index`.
    fn broken(&self, index: u32, message: String) -> RowError {
        RowError {
            file: Arc::clone(&self.plan.file),
            row: u64::from(index) + 1,
            column: None,
            message,
        }
    }

    /// Queue a held row; `false` when nobody reads any more.
    fn push(&mut self, row: SheetRow) -> bool {
        let (first_column, width) = (self.layout.first_column, self.layout.width);
        let values = values(row.cells.into_iter(), first_column, width);
        self.push_values(row.index, values)
    }

    /// Queue the row at sheet row `index` unless it is blank; `false` when nobody reads any more.
    fn push_values(&mut self, index: u32, mut values: Vec<Cell>) -> bool {
        if values.iter().all(|v| *v == Cell::Empty) {
            return true;
        }
        values.reserve_exact(self.layout.aliases.len());
        for &column in &self.layout.aliases {
            let value = values.get(column).cloned().unwrap_or(Cell::Empty);
            values.push(value);
        }
        self.batch.push(Row {
            file: Arc::clone(&self.plan.file),
            row: u64::from(index) + 1,
            headers: Arc::clone(&self.layout.headers),
            values,
            text: String::new(),
        });
        self.batch.len() < BATCH || self.flush()
    }

    /// Hand over the rows queued so far; `false` when nobody reads any more.
    fn flush(&mut self) -> bool {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        batch.is_empty() || self.out.send(Message::Rows(batch)).is_ok()
    }
}
