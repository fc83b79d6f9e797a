//! Tests of the source module: every reader on fixtures named for the edge case they test,
//! on the real exports in `../shared/data/real-exports`, and on random and truncated bytes.

use std::path::{Path, PathBuf};

use referral_sync::source::{self, Cell, Row, RowError, SourceError, SourceOptions};

mod csv_files;
mod dataverse_files;
mod excel_files;
mod excel_stream;
mod fuzz;
mod hostile;
mod xlsb_files;

/// A fixture under `tests/fixtures/source/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/source")
        .join(name)
}

/// The shared reference folder: `<crate root>/../shared`, else `/work/shared`.
fn shared_dir() -> Option<PathBuf> {
    let sibling = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if sibling.is_dir() {
        return Some(sibling);
    }
    let fixed = PathBuf::from("/work/shared");
    fixed.is_dir().then_some(fixed)
}

/// A real export file, or `None` (and a note) when `../shared` is not present.
fn real_export(name: &str) -> Option<PathBuf> {
    match shared_dir() {
        Some(dir) => Some(dir.join("data/real-exports").join(name)),
        None => {
            println!("skipped: ../shared not present");
            None
        }
    }
}

/// Read every row of one input with the given options.
fn read_all(path: &Path, opts: &SourceOptions) -> Vec<Result<Row, RowError>> {
    match source::open(path, opts) {
        Ok(rows) => rows.collect(),
        Err(e) => panic!("cannot open: {e}"),
    }
}

/// Read every row, failing the test on a row error.
fn read_ok(path: &Path, opts: &SourceOptions) -> Vec<Row> {
    read_all(path, opts)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("unexpected row error: {e}")))
        .collect()
}

/// The text of a cell, for comparisons.
fn text(row: &Row, name: &str) -> String {
    match row.get(name) {
        Some(Cell::Empty) => String::new(),
        Some(cell) if row.text_of(cell).is_some() => row.text_of(cell).unwrap_or("").to_owned(),
        Some(other) => format!("{other:?}"),
        None => panic!("no column {name:?} in {:?}", row.headers.names()),
    }
}

fn open_err(path: &Path, opts: &SourceOptions) -> SourceError {
    match source::open(path, opts) {
        Ok(_) => panic!("{} opened, expected an error", path.display()),
        Err(e) => e,
    }
}
