//! Tests of the mapping module: every load diagnostic, every language feature on in-memory
//! rows, column checks, the shipped mappings previewed end to end by the binary on their
//! samples and on the real exports, and properties of the conversions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use referral_sync::mapping::{MappedRecord, Mapping, RowFailure, RowOutcome};
use referral_sync::source::{Cell, Headers, Row};

mod apply;
mod check_alone;
mod cli;
mod formats;
mod frames;
mod load;
mod props;
mod pull_columns;
mod pull_roundtrip;
mod sales_fields;

/// The crate root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shared reference folder: `<crate root>/../shared`, else `/work/shared`; `None` (and a
/// note on stderr) when neither exists.
fn shared() -> Option<PathBuf> {
    let sibling = root().join("../shared");
    let found = [sibling, PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.is_dir());
    if found.is_none() {
        eprintln!("skipped: ../shared not present");
    }
    found
}

/// Compile mapping text (named `test.toml` in diagnostics), panicking with the diagnostics.
fn compile(text: &str) -> Mapping {
    compile_at(Path::new("test.toml"), text)
}

fn compile_at(path: &Path, text: &str) -> Mapping {
    match Mapping::from_str(path, text, &[]) {
        Ok(m) => m,
        Err(d) => panic!("mapping did not load:\n{d}"),
    }
}

/// The diagnostics of mapping text that must not load, one `file:line:col: message` each.
fn diagnostics(text: &str) -> Vec<String> {
    match Mapping::from_str(Path::new("bad.toml"), text, &[]) {
        Ok(_) => panic!("mapping loaded but should not have"),
        Err(d) => d.0.iter().map(ToString::to_string).collect(),
    }
}

/// An in-memory CSV-like row: every cell a string, empty strings as `Cell::Empty`.
fn row(headers: &[&str], values: &[&str]) -> Row {
    let cells = values
        .iter()
        .map(|v| {
            if v.is_empty() {
                Cell::Empty
            } else {
                Cell::String((*v).to_string())
            }
        })
        .collect();
    typed_row(headers, cells)
}

fn typed_row(headers: &[&str], values: Vec<Cell>) -> Row {
    Row {
        file: Arc::new(PathBuf::from("input.csv")),
        row: 2,
        headers: Arc::new(Headers::new(
            headers.iter().map(|h| h.to_string()).collect(),
        )),
        values,
        text: String::new(),
    }
}

/// Map one row.
fn map(mapping: &Mapping, row: &Row) -> RowOutcome {
    let cols = mapping.resolve(&row.headers);
    mapping.map_row(row, &cols)
}

/// Map one row that must map.
fn mapped(mapping: &Mapping, row: &Row) -> MappedRecord {
    match map(mapping, row) {
        RowOutcome::Mapped(record) => record,
        other => panic!("expected a mapped row, got {other:?}"),
    }
}

/// Map one row that must fail.
fn failed(mapping: &Mapping, row: &Row) -> RowFailure {
    match map(mapping, row) {
        RowOutcome::Invalid(failure) => failure,
        other => panic!("expected an invalid row, got {other:?}"),
    }
}

/// The smallest valid mapping body after `external_id`; tests append fields to it.
const BASE: &str = r#"
external_id = "Id"
[fields]
name = "Name"
type = { value = "Independent" }
customerProfile.name = "Customer"
customerProfile.address.country = { value = "US" }
consent.consentToContact = true
details.currency = { value = "USD" }
"#;
