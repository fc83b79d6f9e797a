//! Rows of an export that failed mapping or validation in an upload: which file and row,
//! which Referral field, and why, so that `report --failures` answers "what failed, why, and
//! which row" for them as it does for API failures.
//!
//! A row has no referral and may have no externalReferenceId, so it is kept by where it is:
//! its export file (as given) and row. The table holds the latest word on each place: a run
//! that finds a row invalid replaces what was known of that place, a run that maps it (fixed
//! in the CRM) removes it, and a run that reads a whole file removes the places past its end.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::record::now_text;
use super::{Ledger, LedgerError, RunId};

/// One problem of an invalid row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// The Referral path (`details.dealValue`), `row` for a problem of the whole row.
    pub field: String,
    /// The input column the value came from, if known.
    pub column: Option<String>,
    pub message: String,
}

/// Record that the row at `file`:`row` is invalid, with every problem (replaces what the
/// ledger knew of that place).
#[derive(Debug, Clone)]
pub struct InvalidRow {
    pub file: String,
    pub row: u64,
    pub problems: Vec<RowProblem>,
    pub run: RunId,
}

/// A stored row error, as `report --failures` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowErrorRecord {
    pub file: String,
    pub row: u64,
    pub problem: RowProblem,
    /// When it was recorded (RFC 3339).
    pub at: String,
    pub run: Option<RunId>,
}

pub(crate) fn invalid(conn: &Connection, op: &InvalidRow) -> Result<(), rusqlite::Error> {
    mapped(conn, &op.file, op.row)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO row_errors (source_file, source_row, field, column_name, message, at, run)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let at = now_text();
    for p in &op.problems {
        stmt.execute(params![
            op.file,
            row_number(op.row),
            p.field,
            p.column,
            p.message,
            at,
            op.run.0
        ])?;
    }
    Ok(())
}

/// The row at `file`:`row` mapped: it no longer fails.
pub(crate) fn mapped(conn: &Connection, file: &str, row: u64) -> Result<(), rusqlite::Error> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM row_errors WHERE source_file = ?1 AND source_row = ?2")?;
    stmt.execute(params![file, row_number(row)])?;
    Ok(())
}

/// `file` was read to its end at `last_row`: places past it no longer exist.
pub(crate) fn file_read(
    conn: &Connection,
    file: &str,
    last_row: u64,
) -> Result<(), rusqlite::Error> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM row_errors WHERE source_file = ?1 AND source_row > ?2")?;
    stmt.execute(params![file, row_number(last_row)])?;
    Ok(())
}

fn row_number(row: u64) -> i64 {
    i64::try_from(row).unwrap_or(i64::MAX)
}

impl Ledger {
    /// Every place (file, row) with a recorded row error, so that a run can tell which mapped
    /// rows clear one without asking the ledger per row.
    pub fn row_error_places(&self) -> Result<HashSet<(String, u64)>, LedgerError> {
        let err = |e| self.sql_error("list row errors", e);
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT source_file, source_row FROM row_errors")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(err)?;
        rows.map(|r| {
            let (file, row) = r.map_err(err)?;
            Ok((file, u64::try_from(row).unwrap_or(0)))
        })
        .collect()
    }

    /// The recorded row errors (of run `run` only, if given), by file and row.
    pub fn row_errors(&self, run: Option<RunId>) -> Result<Vec<RowErrorRecord>, LedgerError> {
        let err = |e| self.sql_error("list row errors", e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT source_file, source_row, field, column_name, message, at, run
                 FROM row_errors WHERE ?1 IS NULL OR run = ?1
                 ORDER BY source_file, source_row, id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([run.map(|r| r.0)], |row| {
                Ok(RowErrorRecord {
                    file: row.get(0)?,
                    row: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
                    problem: RowProblem {
                        field: row.get(2)?,
                        column: row.get(3)?,
                        message: row.get(4)?,
                    },
                    at: row.get(5)?,
                    run: row.get::<_, Option<i64>>(6)?.map(RunId),
                })
            })
            .map_err(err)?;
        rows.map(|r| r.map_err(err)).collect()
    }
}
