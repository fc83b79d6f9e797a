//! Pull files: the records of one pull as CSV, a JSON array or NDJSON (by the file's
//! extension), one row per record through the pull columns (a mapping's `[pull]` section or
//! the standard ones), and written so that the file
//! appears whole or not at all.
//!
//! A file is written to a temporary name in its own directory, flushed to disk, renamed over
//! the final name and the directory flushed too, so after a crash or a kill the final name holds
//! either the previous file or the new one, whole. The temporary name is fixed per file
//! (`.NAME.pull-partial`), so one left by a kill is replaced by the next pull rather than
//! piling up. CSV cells go through the spreadsheet guard against formula injection: inbound
//! referrals carry text written outside the organisation.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::Error;
use crate::admin::spreadsheet::SpreadsheetCsv;
use crate::mapping::{PullCellError, PullColumns};

/// A pull file's format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// One JSON array of row objects.
    Json,
    /// One row object per line (`.ndjson` or `.jsonl`).
    Ndjson,
}

impl Format {
    /// The format of `path` (`flag` names it in the usage error for any other extension).
    pub fn of(flag: &str, path: &Path) -> Result<Format, Error> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            Some("ndjson" | "jsonl") => Ok(Format::Ndjson),
            _ => Err(Error::usage(format!(
                "{flag} {}: expected a file ending in .csv, .json, .ndjson or .jsonl",
                path.display()
            ))),
        }
    }
}

/// The rows of a pull file: its headers and one row of cells per record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The pull records as rows of `columns`. A record with a cell that cannot be written is
/// left out of the table; its index and error are returned so that it stays undelivered.
pub fn render(columns: &PullColumns, records: &[Value]) -> (Table, Vec<(usize, PullCellError)>) {
    let mut table = Table {
        headers: columns.headers(),
        rows: Vec::with_capacity(records.len()),
    };
    let mut failed = Vec::new();
    for (index, record) in records.iter().enumerate() {
        match columns.row(record) {
            Ok(cells) => table.rows.push(cells),
            Err(err) => failed.push((index, err)),
        }
    }
    (table, failed)
}

/// Write `table` to `path` in `format`, atomically (see the module).
pub fn write_file(path: &Path, format: Format, table: &Table) -> Result<(), Error> {
    let io_error = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let temp = partial_path(path)?;
    let written = File::create(&temp).and_then(|file| {
        let mut out = BufWriter::new(file);
        write_rows(&mut out, format, table)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()
    });
    if let Err(source) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(io_error(source));
    }
    sync_dir(path).map_err(io_error)
}

/// `.NAME.pull-partial` beside `path`.
fn partial_path(path: &Path) -> Result<PathBuf, Error> {
    let Some(name) = path.file_name() else {
        return Err(Error::usage(format!(
            "{}: expected a file name",
            path.display()
        )));
    };
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(".pull-partial");
    Ok(path.with_file_name(partial))
}

/// Flush the directory holding `path`, so the rename survives a power loss.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    OpenOptions::new().read(true).open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = (dir, OpenOptions::new());
    Ok(())
}

fn write_rows(out: &mut dyn Write, format: Format, table: &Table) -> std::io::Result<()> {
    match format {
        Format::Csv => {
            let header: Vec<&str> = table.headers.iter().map(String::as_str).collect();
            let mut csv = SpreadsheetCsv::new(out, &header)?;
            for row in &table.rows {
                csv.row(row)?;
            }
            csv.flush()
        }
        Format::Json => {
            let rows: Vec<Value> = table
                .rows
                .iter()
                .map(|r| object(&table.headers, r))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)
        }
        Format::Ndjson => {
            for row in &table.rows {
                serde_json::to_writer(&mut *out, &object(&table.headers, row))?;
                writeln!(out)?;
            }
            Ok(())
        }
    }
}

/// One row as a JSON object keyed by the column headers.
fn object(headers: &[String], row: &[String]) -> Value {
    let map: Map<String, Value> = headers
        .iter()
        .cloned()
        .zip(row.iter().cloned().map(Value::from))
        .collect();
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_extension() {
        let of = |name: &str| Format::of("--output", Path::new(name));
        assert_eq!(of("a.CSV").ok(), Some(Format::Csv));
        assert_eq!(of("a.json").ok(), Some(Format::Json));
        assert_eq!(of("a.jsonl").ok(), Some(Format::Ndjson));
        let err = of("a.xlsx").expect_err("xlsx");
        assert!(err.to_string().contains("--output a.xlsx"), "{err}");
    }
}
