//! What the reader tells the ledger about rows that fail mapping or validation: each invalid
//! row is recorded with its file, row, field and message (for `report --failures`); a row
//! that maps now clears what was recorded of its place; a file read to its end clears the
//! places past its last row.
//!
//! The places with a recorded error are loaded once at the start, so a run over rows that all
//! map (the nightly case) writes nothing and asks the ledger nothing per row.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::ledger::{InvalidRow, Ledger, LedgerError, RowProblem, RunId, WriteOp, WriterHandle};
use crate::mapping::RowFailure;

/// The reader's side of the ledger's row errors for one run.
pub(crate) struct RowLog {
    writer: WriterHandle,
    run: RunId,
    /// Rows with a recorded error, by file (as the ledger stores it).
    known: HashMap<String, HashSet<u64>>,
    /// The file being read (and its name as stored), and the last row read of it.
    current: Option<(Arc<PathBuf>, String, u64)>,
}

impl RowLog {
    pub(crate) fn new(
        reads: &Ledger,
        writer: WriterHandle,
        run: RunId,
    ) -> Result<Self, LedgerError> {
        let mut known: HashMap<String, HashSet<u64>> = HashMap::new();
        for (file, row) in reads.row_error_places()? {
            known.entry(file).or_default().insert(row);
        }
        Ok(RowLog {
            writer,
            run,
            known,
            current: None,
        })
    }

    /// A row of `file` was read; a new file means the previous one was read to its end.
    pub(crate) fn seen(&mut self, file: &Arc<PathBuf>, row: u64) {
        match &mut self.current {
            Some((current, _, last)) if Arc::ptr_eq(current, file) || current == file => {
                *last = row;
            }
            _ => {
                self.finish();
                self.current = Some((Arc::clone(file), file.display().to_string(), row));
            }
        }
    }

    /// The row last [`seen`](Self::seen) mapped (or a filter skipped it): it does not fail.
    pub(crate) fn mapped(&mut self) {
        let Some((_, name, row)) = &self.current else {
            return;
        };
        if self.known.get(name).is_some_and(|rows| rows.contains(row)) {
            self.send(WriteOp::RowMapped {
                file: name.clone(),
                row: *row,
            });
        }
    }

    /// `failure`'s row is invalid: record every problem.
    pub(crate) fn invalid(&mut self, failure: &RowFailure) {
        let problems = failure
            .problems
            .iter()
            .map(|p| RowProblem {
                field: p.path.clone(),
                column: p.column.clone(),
                message: p.message.clone(),
            })
            .collect();
        self.send(WriteOp::InvalidRow(InvalidRow {
            file: failure.file.display().to_string(),
            row: failure.row,
            problems,
            run: self.run,
        }));
    }

    /// The current file was read to its end.
    pub(crate) fn finish(&mut self) {
        if let Some((_, file, last_row)) = self.current.take()
            && self.known.contains_key(&file)
        {
            self.send(WriteOp::FileRead { file, last_row });
        }
    }

    /// Queue `op`. A failed write stops the run through the workers' acks; the reader does
    /// not wait for these.
    fn send(&self, op: WriteOp) {
        drop(self.writer.send(op));
    }
}
