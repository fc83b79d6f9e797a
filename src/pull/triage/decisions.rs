//! The decisions file of `triage`: one row per inbound referral to accept or decline.
//!
//! The file is read like an export (CSV in any encoding and delimiter, or a workbook), so
//! that the inbound file of `pull` with two columns added is a decisions file. Its header
//! names `referralId` and `decision`, and `reason` when any row declines (matched as export
//! columns are: case, spacing and punctuation aside); other columns are left alone.
//!
//! Each bad row is a problem naming the file, the row (the header is row 1) and the column;
//! the good rows still go. A referral listed on two rows with different decisions (or two
//! declines with different reasons) is a problem on both rows and neither is sent; the same
//! decision twice is carried out once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use crate::ledger::{Decision, SourceLocation};
use crate::source::{Cell, Headers, Row, RowError, SourceOptions};

/// The columns, as written in the docs.
const REFERRAL_ID: &str = "referralId";
const DECISION: &str = "decision";
const REASON: &str = "reason";

/// One good row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRow {
    pub referral_id: String,
    pub decision: Decision,
    /// Trimmed; `None` when empty. Required to decline (it becomes `statusReason`).
    pub reason: Option<String>,
    pub file: Arc<PathBuf>,
    pub row: u64,
}

impl DecisionRow {
    /// Where the row is, as the ledger keeps it.
    pub fn location(&self) -> SourceLocation {
        SourceLocation {
            file: self.file.display().to_string(),
            row: self.row,
        }
    }
}

/// What a decisions file holds: the good rows in file order, and every bad row's problem.
#[derive(Debug, Default)]
pub struct Decisions {
    pub rows: Vec<DecisionRow>,
    pub problems: Vec<RowError>,
}

/// Read a decisions file. A missing file or a header without `referralId` or `decision` is
/// an error (exit 2, nothing sent); bad rows are [`Decisions::problems`].
pub fn read(path: &Path) -> Result<Decisions, Error> {
    let source = crate::source::open(path, &SourceOptions::default())?;
    let headers = source.headers().unwrap_or_default();
    check_header(path, &headers)?;
    let mut decisions = Decisions::default();
    for row in source {
        match row.map(|row| parse_row(&row)) {
            Ok(Ok(Some(good))) => decisions.rows.push(good),
            Ok(Ok(None)) => {}
            Ok(Err(problem)) | Err(problem) => decisions.problems.push(problem),
        }
    }
    drop_conflicts(&mut decisions);
    Ok(decisions)
}

/// The header must name `referralId` and `decision`, each once.
fn check_header(path: &Path, headers: &Headers) -> Result<(), Error> {
    for column in [REFERRAL_ID, DECISION, REASON] {
        if let Some([(_, first), (_, second)]) = headers.ambiguous(column) {
            return Err(Error::usage(format!(
                "{}:row 1: the columns {first:?} and {second:?} both read as {column}",
                path.display()
            )));
        }
    }
    let missing: Vec<&str> = [REFERRAL_ID, DECISION]
        .into_iter()
        .filter(|column| headers.index_of(column).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{}:row 1: no column {} (a decisions file has the header referralId,decision,reason; \
         found {:?})",
        path.display(),
        missing.join(" or "),
        headers.names()
    )))
}

/// One row: `None` when every cell is empty (trailing rows of a worksheet).
fn parse_row(row: &Row) -> Result<Option<DecisionRow>, RowError> {
    let problem = |column: &str, message: String| RowError {
        file: Arc::clone(&row.file),
        row: row.row,
        column: Some(column.to_owned()),
        message,
    };
    let cell = |column: &str| text_of(row, column).map_err(|m| problem(column, m));
    let (id, decision, reason) = (cell(REFERRAL_ID)?, cell(DECISION)?, cell(REASON)?);
    if id.is_empty() && decision.is_empty() && reason.is_empty() {
        return Ok(None);
    }
    let referral_id = referral_id(&id).map_err(|m| problem(REFERRAL_ID, m))?;
    let decision = match Decision::parse(&decision) {
        Some(decision) => decision,
        None if decision.is_empty() => {
            return Err(problem(
                DECISION,
                "is empty; expected accept or decline".into(),
            ));
        }
        None => {
            return Err(problem(
                DECISION,
                format!("{decision:?}: expected accept or decline"),
            ));
        }
    };
    if decision == Decision::Decline && reason.is_empty() {
        return Err(problem(
            REASON,
            "is empty: a decline needs a reason (Partner Center keeps it as statusReason)".into(),
        ));
    }
    Ok(Some(DecisionRow {
        referral_id,
        decision,
        reason: (!reason.is_empty()).then_some(reason),
        file: Arc::clone(&row.file),
        row: row.row,
    }))
}

/// The trimmed text of a column's cell ("" for an empty cell or a missing column).
fn text_of(row: &Row, column: &str) -> Result<String, String> {
    let Some(cell) = row.get(column) else {
        return Ok(String::new());
    };
    let text = match cell {
        Cell::Empty => String::new(),
        Cell::String(_) | Cell::Span { .. } => row.text_of(cell).unwrap_or_default().to_owned(),
        Cell::Int(n) => n.to_string(),
        Cell::Float(x) => x.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::DateTime(dt) => dt.to_string(),
        Cell::Error(e) => return Err(format!("holds the error value {e}")),
    };
    Ok(text.trim().to_owned())
}

/// A referral id is a GUID (Partner Center's ids are); anything else is most likely the
/// CRM's own id put in the wrong column.
fn referral_id(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("is empty; expected the referral's id".into());
    }
    match uuid::Uuid::parse_str(text) {
        Ok(_) => Ok(text.to_ascii_lowercase()),
        Err(_) => Err(format!(
            "{text:?} is not a referral id (a GUID such as 6f0a6f55-3a0e-4a4b-9f5c-8d6a1c2b3e4f)"
        )),
    }
}

/// Rows naming the same referral: the same decision (and reason) is kept once; different
/// ones are a problem on every row involved.
fn drop_conflicts(decisions: &mut Decisions) {
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, row) in decisions.rows.iter().enumerate() {
        by_id.entry(&row.referral_id).or_default().push(index);
    }
    let mut drop = vec![false; decisions.rows.len()];
    let mut problems = Vec::new();
    for indexes in by_id.values().filter(|ids| ids.len() > 1) {
        let rows: Vec<&DecisionRow> = indexes.iter().map(|&i| &decisions.rows[i]).collect();
        let agree = rows.iter().all(|row| same_decision(row, rows[0]));
        for (&index, row) in indexes.iter().zip(&rows).skip(usize::from(agree)) {
            drop[index] = true;
            if !agree {
                problems.push(conflict(row, &rows));
            }
        }
    }
    let mut keep = drop.iter().map(|dropped| !dropped);
    decisions.rows.retain(|_| keep.next().unwrap_or(true));
    problems.sort_by_key(|p| p.row);
    decisions.problems.extend(problems);
}

fn same_decision(a: &DecisionRow, b: &DecisionRow) -> bool {
    a.decision == b.decision && (a.decision == Decision::Accept || a.reason == b.reason)
}

fn conflict(row: &DecisionRow, all: &[&DecisionRow]) -> RowError {
    let others: Vec<String> = all
        .iter()
        .filter(|other| other.row != row.row)
        .map(|other| match &other.reason {
            Some(reason) => format!("row {} ({} {reason:?})", other.row, other.decision.as_str()),
            None => format!("row {} ({})", other.row, other.decision.as_str()),
        })
        .collect();
    RowError {
        file: Arc::clone(&row.file),
        row: row.row,
        column: Some(DECISION.to_owned()),
        message: format!(
            "referral {} is listed again with another decision at {}; none of them is sent",
            row.referral_id,
            others.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const A: &str = "6f0a6f55-3a0e-4a4b-9f5c-8d6a1c2b3e4f";
    const B: &str = "0b5c1d2e-7f80-4a91-b2c3-d4e5f6a7b8c9";

    #[test]
    fn bad_rows_are_named_and_good_rows_kept() {
        let text = format!(
            "referralId,decision,reason\n{A},Accept,\nCRM-1,accept,\n{B},maybe,\n{B},decline,\n"
        );
        let (_dir, path) = file_with(&text);
        let read = read(&path).unwrap();
        assert_eq!(read.rows.len(), 1);
        assert_eq!(read.rows[0].decision, Decision::Accept);
        let shown: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].ends_with(":row 3: referralId: \"CRM-1\" is not a referral id (a GUID such as 6f0a6f55-3a0e-4a4b-9f5c-8d6a1c2b3e4f)"), "{shown:?}");
        assert!(
            shown[1].contains(":row 4: decision: \"maybe\""),
            "{shown:?}"
        );
        assert!(shown[2].contains(":row 5: reason: is empty"), "{shown:?}");
    }

    #[test]
    fn conflicting_rows_fail_both_and_repeats_go_once() {
        let text = format!(
            "Referral ID;Decision;Reason\n{A};accept;\n{B};decline;no fit\n{A};decline;late\n{B};DECLINE;no fit\n"
        );
        let (_dir, path) = file_with(&text);
        let read = read(&path).unwrap();
        assert_eq!(read.rows.len(), 1, "{:?}", read.rows);
        assert_eq!(read.rows[0].referral_id, B);
        assert_eq!(read.rows[0].row, 3);
        let rows: Vec<u64> = read.problems.iter().map(|p| p.row).collect();
        assert_eq!(rows, [2, 4]);
        assert!(
            read.problems[0]
                .message
                .contains("row 4 (decline \"late\")")
        );
    }

    #[test]
    fn a_header_without_decision_is_refused() {
        let (_dir, path) = file_with(&format!("referralId,choice\n{A},accept\n"));
        let err = read(&path).unwrap_err().to_string();
        assert!(
            err.contains("decisions.csv:row 1: no column decision"),
            "{err}"
        );
    }
}
