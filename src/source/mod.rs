//! Streaming row sources: CSV, Excel, Dynamics 365 "Export to Excel" workbooks and Dataverse
//! Web API JSON, all read as rows of named, typed cells.
//!
//! Every row keeps the file it came from and the row number a user sees in Excel or an editor
//! (the header is row 1), so that every later error can point at it.
//!
//! Entry points: [`open`] one input (the reader is chosen by extension, then by content) or
//! [`open_all`] several in order; [`SourceOptions::from_args`] turns the input flags into
//! options. The readers and what they promise:
//! - delimited text (`csv.rs`): every cell is text or empty; the mapping converts types;
//! - workbooks (`excel.rs`, `cell.rs`): one sheet, typed cells; an error cell (`#N/A`) is
//!   `Cell::Error`, which fails the row when the mapping reads it;
//! - Dynamics 365 exports ([`dynamics`]): the hidden re-import columns also appear as
//!   `Dynamics Record Id`, `Dynamics Row Checksum` and `Dynamics Modified On`;
//! - Dataverse Web API JSON (`dataverse.rs`, `json.rs`): fields by logical name,
//!   `<field>@label` for formatted values, `nav_property.field` for expanded records;
//!   decimals keep their exact text, dates stay text.
//!
//! Memory stays flat for CSV and JSON however large the input. Workbook sheets (.xlsx, .xlsm,
//! .xlsb) are streamed too; what remains is the workbook's shared-string table, which calamine
//! loads when it opens the file. .xls and .ods are loaded whole.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod cell;
mod chain;
mod csv;
mod csv_scan;
mod dataverse;
pub mod dynamics;
mod encoding;
mod excel;
mod excel_stream;
mod json;
mod meter;
mod options;
mod shared_strings;

pub use chain::{open, open_all};
pub use meter::Meter;

/// An input file could not be opened or read as a whole. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A problem without a more specific variant.
    #[error("{path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    /// The file does not exist or cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file ends in the middle of its structure (a cut-off zip or JSON document).
    #[error("{}: truncated or corrupt{}: {detail}", path.display(), at_line(*line))]
    Truncated {
        path: PathBuf,
        line: Option<u64>,
        detail: String,
    },
    /// The workbook is encrypted with a password.
    #[error("{}: the workbook is password-protected; save an unprotected copy and read that", path.display())]
    PasswordProtected { path: PathBuf },
    /// The sheet asked for with `--sheet` is not in the workbook.
    #[error("{}: no sheet {sheet:?}; the workbook has: {}", path.display(), list(available))]
    MissingSheet {
        path: PathBuf,
        sheet: String,
        available: Vec<String>,
    },
    /// The input has no header row (an empty file, or no row that looks like headers).
    #[error("{}: no header row found{}", path.display(), in_sheet(sheet.as_deref()))]
    NoHeader {
        path: PathBuf,
        sheet: Option<String>,
    },
    /// A workbook could not be parsed.
    #[error("{}: cannot read workbook: {message}", path.display())]
    Workbook { path: PathBuf, message: String },
    /// A JSON input is not valid JSON or not a Dataverse response.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
    },
    /// A directory given as input holds no JSON pages.
    #[error("{}: no JSON pages in this directory", path.display())]
    EmptyDirectory { path: PathBuf },
}

fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

fn in_sheet(sheet: Option<&str>) -> String {
    sheet
        .map(|s| format!(" in sheet {s:?}"))
        .unwrap_or_default()
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "no sheets".to_owned();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl SourceError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            SourceError::Unreadable { path, .. }
            | SourceError::Io { path, .. }
            | SourceError::Truncated { path, .. }
            | SourceError::PasswordProtected { path }
            | SourceError::MissingSheet { path, .. }
            | SourceError::NoHeader { path, .. }
            | SourceError::Workbook { path, .. }
            | SourceError::Json { path, .. }
            | SourceError::EmptyDirectory { path } => path,
        }
    }
}

/// One typed cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(jiff::civil::Date),
    DateTime(jiff::civil::DateTime),
    /// An error cell such as `#N/A`; reading it is a row error.
    Error(String),
    /// Text held in the row's own buffer ([`Row::text`]) at these byte offsets: how delimited
    /// text is read, one buffer per row instead of one string per cell. Read it through the
    /// row ([`Row::text_of`]); [`Row::into_values`] turns it into `Cell::String`.
    Span {
        start: u32,
        end: u32,
    },
}

/// Normalise a column name for matching: lower case, letters and digits only
/// (`Est. Revenue` and `est revenue` both become `estrevenue`).
pub fn normalize_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The column names of a source, with a lookup by normalised name.
///
/// Two columns whose names normalise alike (`Name` and `name`, or the same name twice) are
/// ambiguous: [`Headers::index_of`] finds the first, and [`Headers::ambiguous`] names both so
/// that a mapping reading that name is refused rather than silently given the first.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// For a normalised name shared by several columns: the second column with it.
    second: HashMap<String, usize>,
}

impl Headers {
    pub fn new(names: Vec<String>) -> Self {
        let mut index = HashMap::with_capacity(names.len());
        let mut second = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            match index.entry(normalize_name(name)) {
                Entry::Occupied(first) => {
                    second.entry(first.key().clone()).or_insert(i);
                }
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
        Headers {
            names,
            index,
            second,
        }
    }

    /// When `name` matches more than one column: the first two, as `(position, name)`.
    pub fn ambiguous(&self, name: &str) -> Option<[(usize, &str); 2]> {
        let key = normalize_name(name);
        let (first, second) = (*self.index.get(&key)?, *self.second.get(&key)?);
        let named = |i: usize| (i, self.names.get(i).map_or("", String::as_str));
        Some([named(first), named(second)])
    }
    /// The names as they appear in the file.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The position of a column, matched case-insensitively, ignoring spacing and punctuation.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(&normalize_name(name)).copied()
    }
}

/// One data row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The file the row came from.
    pub file: Arc<PathBuf>,
    /// The row number a user sees (header = row 1 in a CSV; the sheet's own row in Excel;
    /// the 1-based record number in a JSON source).
    pub row: u64,
    /// The column names; rows of one source usually share one `Arc`.
    pub headers: Arc<Headers>,
    /// One cell per header.
    pub values: Vec<Cell>,
    /// The text `Cell::Span` cells point into (empty for readers that make no spans).
    pub text: String,
}

impl Row {
    /// The cell of a named column, matched as `Headers::index_of` does; a span is returned
    /// as it is (see [`Row::text_of`]).
    pub fn get(&self, name: &str) -> Option<&Cell> {
        self.headers.index_of(name).and_then(|i| self.values.get(i))
    }

    /// The text of a named column's cell, for text cells (`String` and `Span`).
    pub fn get_text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|cell| self.text_of(cell))
    }

    /// The text of a text cell of this row (`String`, or a `Span` into [`Row::text`]).
    pub fn text_of<'a>(&'a self, cell: &'a Cell) -> Option<&'a str> {
        match cell {
            Cell::String(text) => Some(text),
            Cell::Span { start, end } => self.text.get(*start as usize..*end as usize),
            _ => None,
        }
    }

    /// The cells, with spans turned into strings: cells that stand without the row.
    pub fn into_values(self) -> Vec<Cell> {
        let Row { values, text, .. } = self;
        values
            .into_iter()
            .map(|cell| match cell {
                Cell::Span { start, end } => {
                    let part = text.get(start as usize..end as usize).unwrap_or_default();
                    Cell::String(part.to_owned())
                }
                other => other,
            })
            .collect()
    }
}

/// A row that could not be read (ragged, undecodable, an error cell…). Reading goes on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}:row {row}{}: {message}", file.display(), column.as_ref().map(|c| format!(": {c}")).unwrap_or_default())]
pub struct RowError {
    pub file: Arc<PathBuf>,
    pub row: u64,
    pub column: Option<String>,
    pub message: String,
}

/// How to read inputs (from `--encoding`, `--delimiter`, `--sheet`, `--header-row`).
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub delimiter: Option<u8>,
    pub sheet: Option<String>,
    pub header_row: Option<u32>,
    /// Counts the bytes read, for the progress display (none: nothing is counted).
    pub meter: Option<Arc<Meter>>,
}

/// A stream of rows from one input.
pub trait RowSource: Iterator<Item = Result<Row, RowError>> + Send {
    /// The path this source reads.
    fn path(&self) -> &Path;
    /// The column names, where the format has a fixed header (CSV, Excel); `None` for
    /// schema-less inputs such as Dataverse JSON before the first record is read.
    fn headers(&self) -> Option<Arc<Headers>>;
    /// Hand back a row the reader made and the caller is done with, so that its buffers can
    /// hold the next row's text; a reader that has no use for it drops it.
    fn recycle(&mut self, row: Row) {
        drop(row);
    }
}
