//! What mapping a row yields, and the streaming driver that maps every row of the inputs.
//!
//! The driver opens the inputs, checks the mapping's columns against the header before any
//! row (a missing column is an error of the whole run), and then yields one `RowOutcome` per
//! row: mapped, skipped by a filter, or invalid with every failing field listed. Source
//! row errors and repeated external ids become invalid outcomes; the run goes on.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::compiled::Node;
use super::diag::Diagnostics;
use super::eval::RowCtx;
use super::load::Mapping;
use super::out::Out;
use super::seen::SeenIds;
use crate::source::{Headers, Row, RowError, RowSource, SourceOptions};

/// One field of a row that could not be mapped, or that the Referral model rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The input column (or template, or lookup column) the value came from, if known.
    pub column: Option<String>,
    /// The Referral path (`details.dealValue`), `row` for problems of the whole row.
    pub path: String,
    pub message: String,
}

/// A row that failed: every problem of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFailure {
    pub file: Arc<PathBuf>,
    pub row: u64,
    pub problems: Vec<Problem>,
}

impl fmt::Display for RowFailure {
    /// One line per problem: `INPUT:row N: path: message (column "C")`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:row {}: {}: {}",
                self.file.display(),
                self.row,
                p.path,
                p.message
            )?;
            if let Some(column) = &p.column {
                write!(f, " (column {column:?})")?;
            }
        }
        Ok(())
    }
}

/// A row mapped to a Referral create payload.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRecord {
    /// The `externalReferenceId`: the sync key.
    pub external_id: String,
    /// The create payload; it passes `referral::validate_create`.
    pub referral: Value,
    /// For a Shared referral: the connected Microsoft referral (target
    /// BusinessProfileLocation/msft unless the mapping says otherwise, its own inviteContext),
    /// without `engagementId` (the uploader adds it after creating `referral`) and without
    /// `externalReferenceId` (only the partner's referral carries the sync key).
    pub connected: Option<Value>,
    pub file: Arc<PathBuf>,
    pub row: u64,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    Mapped(MappedRecord),
    /// A filter dropped the row.
    Skipped {
        file: Arc<PathBuf>,
        row: u64,
        reason: String,
    },
    Invalid(RowFailure),
}

/// Open `inputs`, check the mapping's columns against their header, and map every row.
///
/// Fails before any row when an input cannot be opened or lacks a column the mapping reads.
pub fn records(
    mapping: &Mapping,
    inputs: &[PathBuf],
    opts: &SourceOptions,
) -> Result<Rows, crate::Error> {
    let mut source = crate::source::open_all(inputs, opts)?;
    let mut first = None;
    let headers = match source.headers() {
        Some(h) => Some(h),
        None => {
            // Schema-less inputs (Dataverse JSON): check against the first record.
            first = source.next();
            match &first {
                Some(Ok(row)) => Some(row.headers.clone()),
                _ => None,
            }
        }
    };
    let mut missing = Diagnostics::default();
    if let (Some(headers), Some(input)) = (&headers, inputs.first()) {
        missing.0.extend(mapping.check_columns(headers, input).0);
    }
    for input in inputs.iter().skip(1) {
        if let Some(headers) = crate::source::open(input, opts)?.headers() {
            missing.0.extend(mapping.check_columns(&headers, input).0);
        }
    }
    if !missing.is_empty() {
        return Err(crate::Error::Mapping(missing));
    }
    Ok(Rows {
        mapping: mapping.clone(),
        source,
        first,
        headers: None,
        cols: Vec::new(),
        seen: SeenIds::default(),
    })
}

/// The rows of `records`: an iterator of owned outcomes, or, with [`Rows::next_with`], each
/// row's payload lent to a closure before it is ever a `serde_json::Value`.
pub struct Rows {
    mapping: Mapping,
    source: Box<dyn RowSource>,
    first: Option<Result<Row, RowError>>,
    headers: Option<Arc<Headers>>,
    cols: Vec<Option<usize>>,
    seen: SeenIds,
}

/// What mapping one row yields, borrowing the row and the mapping.
#[derive(Debug)]
pub enum Evaluated<'r> {
    /// A payload that passed validation.
    Mapped {
        external_id: Cow<'r, str>,
        referral: Out<'r>,
        connected: Option<Out<'r>>,
    },
    /// A filter dropped the row.
    Skipped { reason: String },
    /// The row's problems.
    Invalid { problems: Vec<Problem> },
}

impl Evaluated<'_> {
    /// The owned outcome of a row.
    pub fn into_outcome(self, row: &Row) -> RowOutcome {
        let file = Arc::clone(&row.file);
        let row = row.row;
        match self {
            Evaluated::Mapped {
                external_id,
                referral,
                connected,
            } => RowOutcome::Mapped(MappedRecord {
                external_id: external_id.into_owned(),
                referral: referral.to_value(),
                connected: connected.as_ref().map(Out::to_value),
                file,
                row,
            }),
            Evaluated::Skipped { reason } => RowOutcome::Skipped { file, row, reason },
            Evaluated::Invalid { problems } => RowOutcome::Invalid(RowFailure {
                file,
                row,
                problems,
            }),
        }
    }
}

impl Rows {
    /// Map the next row and hand its outcome (and the row) to `f`; `None` at the end.
    pub fn next_with<T>(&mut self, f: impl FnOnce(Evaluated<'_>, &Row) -> T) -> Option<T> {
        let next = match self.first.take() {
            Some(first) => first,
            None => self.source.next()?,
        };
        let row = match next {
            Ok(row) => row,
            Err(e) => {
                let failure = source_failure(e);
                let row = Row {
                    file: Arc::clone(&failure.file),
                    row: failure.row,
                    headers: Arc::default(),
                    values: Vec::new(),
                    text: String::new(),
                };
                let problems = failure.problems;
                return Some(f(Evaluated::Invalid { problems }, &row));
            }
        };
        if !self
            .headers
            .as_ref()
            .is_some_and(|h| Arc::ptr_eq(h, &row.headers))
        {
            self.cols = self.mapping.resolve(&row.headers);
            self.headers = Some(row.headers.clone());
        }
        let evaluated = match self.mapping.evaluate(&row, &self.cols) {
            Evaluated::Mapped { external_id, .. } if !self.seen.insert(&external_id) => {
                Evaluated::Invalid {
                    problems: vec![Problem {
                        column: self.mapping.external_id.label.clone(),
                        path: "externalReferenceId".into(),
                        message: format!(
                            "{external_id:?} was already used by an earlier row; external ids must be unique"
                        ),
                    }],
                }
            }
            other => other,
        };
        let result = f(evaluated, &row);
        self.source.recycle(row);
        Some(result)
    }
}

impl Iterator for Rows {
    type Item = RowOutcome;

    fn next(&mut self) -> Option<RowOutcome> {
        self.next_with(|evaluated, row| evaluated.into_outcome(row))
    }
}

fn source_failure(e: RowError) -> RowFailure {
    RowFailure {
        file: e.file,
        row: e.row,
        problems: vec![Problem {
            column: e.column,
            path: "row".into(),
            message: e.message,
        }],
    }
}

impl Mapping {
    /// The position of each of the mapping's columns in `headers`.
    pub fn resolve(&self, headers: &Headers) -> Vec<Option<usize>> {
        self.columns.iter().map(|c| headers.index_of(c)).collect()
    }

    /// Map one row, given the positions of the mapping's columns in its header
    /// (`Mapping::resolve`). Duplicate external ids are the driver's business.
    pub fn map_row(&self, row: &Row, cols: &[Option<usize>]) -> RowOutcome {
        self.evaluate(row, cols).into_outcome(row)
    }

    /// Map one row into a payload that borrows the row and the mapping.
    pub fn evaluate<'r>(&'r self, row: &'r Row, cols: &'r [Option<usize>]) -> Evaluated<'r> {
        let ctx = RowCtx::new(self, row, cols);
        let mut problems = Vec::new();
        if let Some(reason) = self.skip_reason(&ctx, &mut problems) {
            return Evaluated::Skipped { reason };
        }
        let external_id = self.external_id(&ctx, &mut problems);
        let members = match &self.fields {
            Node::Object(members) => members.as_slice(),
            Node::Leaf(_) | Node::Groups(_) => &[],
        };
        let mut referral = Vec::with_capacity(members.len() + 1);
        if let Some(id) = &external_id {
            referral.push(("externalReferenceId", Out::Text(id.clone())));
        }
        ctx.members_into(members, &mut referral, &mut problems);
        let referral = Out::Object(referral);
        let connected = self.connected(&ctx, &referral, &mut problems);
        if problems.is_empty() {
            self.validate("", &referral, &mut problems);
            if let Some(c) = &connected {
                self.validate("connected.", c, &mut problems);
            }
        }
        match (external_id, problems.is_empty()) {
            (Some(external_id), true) => Evaluated::Mapped {
                external_id,
                referral,
                connected,
            },
            _ => Evaluated::Invalid { problems },
        }
    }

    /// The value one target of the mapping reads from a row (`externalReferenceId`,
    /// `status`, `details.dealValue`): mapped and converted as for the whole payload, without
    /// the rest of the row being required. `None` when the mapping does not set that path;
    /// `Some(Ok(None))` when the row leaves it out. It tells what a CRM file (a pull file
    /// imported, say) reads back as.
    pub fn read_target(
        &self,
        path: &str,
        row: &Row,
        cols: &[Option<usize>],
    ) -> Option<Result<Option<Value>, String>> {
        let leaf = if path == "externalReferenceId" {
            &self.external_id
        } else {
            let mut node = &self.fields;
            for segment in path.split('.') {
                let Node::Object(members) = node else {
                    return None;
                };
                node = &members.iter().find(|(name, _)| *name == segment)?.1;
            }
            match node {
                Node::Leaf(leaf) => leaf.as_ref(),
                Node::Object(_) | Node::Groups(_) => return None,
            }
        };
        let ctx = RowCtx::new(self, row, cols);
        Some(ctx.leaf(leaf).map(|out| out.map(|o| o.to_value())))
    }

    /// Why the filters drop the row, if they do (a filter that cannot read its value is a
    /// problem of the row).
    fn skip_reason<'r>(&'r self, ctx: &RowCtx<'r>, problems: &mut Vec<Problem>) -> Option<String> {
        for filter in &self.filters {
            match ctx.filtered(filter) {
                Ok(None) => {}
                Ok(Some(reason)) => return Some(reason),
                Err(message) => problems.push(Problem {
                    column: filter.leaf.label.clone(),
                    path: "filter".into(),
                    message,
                }),
            }
        }
        None
    }

    /// The row's external id as text, or a problem.
    fn external_id<'r>(
        &'r self,
        ctx: &RowCtx<'r>,
        problems: &mut Vec<Problem>,
    ) -> Option<Cow<'r, str>> {
        match ctx.leaf(&self.external_id) {
            Ok(Some(Out::Text(s))) => Some(s),
            Ok(Some(other)) => Some(Cow::Owned(other.to_value().to_string())),
            Ok(None) => None,
            Err(message) => {
                problems.push(Problem {
                    column: self.external_id.label.clone(),
                    path: "externalReferenceId".into(),
                    message,
                });
                None
            }
        }
    }

    /// The connected Microsoft referral of a Shared referral: the partner's payload without
    /// its sync key and target, with the `[connected]` fields merged in.
    fn connected<'r>(
        &'r self,
        ctx: &RowCtx<'r>,
        referral: &Out<'r>,
        problems: &mut Vec<Problem>,
    ) -> Option<Out<'r>> {
        if referral.get("type").and_then(Out::as_str) != Some("Shared") {
            return None;
        }
        let Out::Object(members) = referral else {
            return None;
        };
        let mut out: Vec<(&'r str, Out<'r>)> = members
            .iter()
            .filter(|(key, _)| !matches!(*key, "externalReferenceId" | "inviteContext"))
            .cloned()
            .collect();
        let msft = Out::Object(vec![
            ("type", Out::from("BusinessProfileLocation")),
            ("id", Out::from("msft")),
        ]);
        set(&mut out, "target", Out::Array(vec![msft]));
        if let Some(Out::Object(extra)) =
            self.connected.as_ref().and_then(|n| ctx.node(n, problems))
        {
            merge(&mut out, extra);
        }
        Some(Out::Object(out))
    }

    fn validate(&self, prefix: &str, payload: &Out<'_>, problems: &mut Vec<Problem>) {
        for e in crate::referral::validate_create(payload) {
            let column = match self.labels.get(&e.path) {
                Some(label) => label.clone(),
                None => self.labels.get(&strip_indices(&e.path)).cloned().flatten(),
            };
            problems.push(Problem {
                column,
                path: format!("{prefix}{}", e.path),
                message: e.message,
            });
        }
    }
}

/// Set the member `key`: in its place if present, else at the end.
fn set<'r>(members: &mut Vec<(&'r str, Out<'r>)>, key: &'r str, value: Out<'r>) {
    match members.iter_mut().find(|(name, _)| *name == key) {
        Some((_, slot)) => *slot = value,
        None => members.push((key, value)),
    }
}

/// Deep-merge `extra` into `base`: objects merge member by member, anything else replaces.
fn merge<'r>(base: &mut Vec<(&'r str, Out<'r>)>, extra: Vec<(&'r str, Out<'r>)>) {
    for (key, value) in extra {
        let existing = base.iter_mut().find(|(name, _)| *name == key);
        match (existing, value) {
            (Some((_, Out::Object(b))), Out::Object(e)) => merge(b, e),
            (_, value) => set(base, key, value),
        }
    }
}

/// `details.requirements.products[1].id` → `details.requirements.products.id`, the path of
/// the split leaf that built the array.
fn strip_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}
