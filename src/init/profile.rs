//! A bounded sample of an export, column by column: what `init` decides from besides the
//! names. Reading stops after [`SAMPLE_ROWS`] rows, so a draft of a million-row export costs
//! the same as one of a thousand.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::source::{Cell, Row, SourceOptions};
use crate::{Error, source};

/// Rows read from each export (and from each lookup file).
pub const SAMPLE_ROWS: usize = 1000;

/// Distinct values kept per column for value tables and comments.
const MAX_DISTINCT: usize = 50;

/// What the sample shows of one column.
#[derive(Debug, Clone, Default)]
pub struct Column {
    /// The name as the file writes it.
    pub name: String,
    /// Every non-empty value of the sample, as text (dates ISO, integral numbers without `.0`).
    pub texts: Vec<String>,
    /// Distinct non-empty values in first-seen order, at most [`MAX_DISTINCT`].
    pub distinct: Vec<String>,
    /// Whether the column has more distinct values than `distinct` holds.
    pub many: bool,
    /// Whether no non-empty value repeats.
    pub unique: bool,
    /// Cells the reader typed as dates or date-times (workbooks).
    pub typed_dates: usize,
}

impl Column {
    /// The share of sampled rows with a value, 0 to 1.
    pub fn fill(&self, rows: usize) -> f64 {
        if rows == 0 {
            0.0
        } else {
            self.texts.len() as f64 / rows as f64
        }
    }

    /// The share of non-empty values that pass `test`, 0 to 1 (0 for an empty column).
    pub fn share(&self, test: impl Fn(&str) -> bool) -> f64 {
        if self.texts.is_empty() {
            return 0.0;
        }
        let hits = self.texts.iter().filter(|t| test(t)).count();
        hits as f64 / self.texts.len() as f64
    }
}

/// The sample of one export (or lookup file).
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub paths: Vec<PathBuf>,
    /// Rows read (rows the reader could not read are not counted).
    pub rows: usize,
    pub columns: Vec<Column>,
}

impl Sample {
    /// Read the header and up to [`SAMPLE_ROWS`] rows of `paths` (read one after the other).
    pub fn read(paths: &[PathBuf], opts: &SourceOptions) -> Result<Sample, Error> {
        let mut rows = source::open_all(paths, opts)?;
        let mut sample = Sample {
            paths: paths.to_vec(),
            ..Sample::default()
        };
        let mut index = HashMap::new();
        if let Some(headers) = rows.headers() {
            for name in headers.names() {
                sample.column_of(&mut index, name);
            }
        }
        let mut seen: Vec<HashSet<String>> = Vec::new();
        for row in rows.by_ref().take(SAMPLE_ROWS).flatten() {
            sample.rows += 1;
            sample.add(&row, &mut index, &mut seen);
        }
        for (column, seen) in sample.columns.iter_mut().zip(&seen) {
            column.unique = seen.len() == column.texts.len();
        }
        if sample.columns.is_empty() {
            let path = paths.first().map(PathBuf::as_path).unwrap_or(Path::new(""));
            return Err(Error::usage(format!(
                "{}: no columns found",
                path.display()
            )));
        }
        Ok(sample)
    }

    /// A column by exact name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn column_of(&mut self, index: &mut HashMap<String, usize>, name: &str) -> usize {
        *index.entry(name.to_owned()).or_insert_with(|| {
            self.columns.push(Column {
                name: name.to_owned(),
                ..Column::default()
            });
            self.columns.len() - 1
        })
    }

    fn add(
        &mut self,
        row: &Row,
        index: &mut HashMap<String, usize>,
        seen: &mut Vec<HashSet<String>>,
    ) {
        for (name, cell) in row.headers.names().iter().zip(&row.values) {
            let at = self.column_of(index, name);
            if seen.len() <= at {
                seen.resize_with(at + 1, HashSet::new);
            }
            let Some(text) = text_of(row, cell) else {
                continue;
            };
            let column = &mut self.columns[at];
            if matches!(cell, Cell::Date(_) | Cell::DateTime(_)) {
                column.typed_dates += 1;
            }
            if seen[at].insert(text.clone()) {
                if column.distinct.len() < MAX_DISTINCT {
                    column.distinct.push(text.clone());
                } else {
                    column.many = true;
                }
            }
            column.texts.push(text);
        }
    }
}

/// A cell as the mapping would see it as text; `None` for empty and error cells.
fn text_of(row: &Row, cell: &Cell) -> Option<String> {
    let text = match cell {
        Cell::Empty | Cell::Error(_) => return None,
        Cell::String(_) | Cell::Span { .. } => row.text_of(cell)?.trim().to_owned(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Cell::Float(f) => f.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::DateTime(dt) => dt.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
    };
    (!text.is_empty()).then_some(text)
}
