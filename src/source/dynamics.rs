//! Recognises the hidden re-import columns of a Dynamics 365 "Export to Excel" workbook and
//! gives them stable names a mapping can rely on.
//!
//! Such a workbook starts with hidden columns headed `(Do Not Modify) <Entity>` (the record
//! GUID; the entity label is the table's display name, so it changes with renames and the
//! user's language), `(Do Not Modify) Row Checksum` and `(Do Not Modify) Modified On`. The
//! prefix is matched ignoring case, spacing and punctuation. Each column is classified by
//! its values: the one whose values are GUIDs is the record id (never the checksum or the
//! date); date values mark the modification time; the checksum is the one whose header says
//! so, or else the one left over. With no data rows to look at, Dynamics' own order decides.
//!
//! The columns stay under their original headers, and are also exposed as:
//! - [`RECORD_ID`] `Dynamics Record Id`: the record GUID, the natural `externalReferenceId`;
//! - [`ROW_CHECKSUM`] `Dynamics Row Checksum`;
//! - [`MODIFIED_ON`] `Dynamics Modified On`.

use super::{Cell, normalize_name};

/// The stable name of the record GUID column.
pub const RECORD_ID: &str = "Dynamics Record Id";
/// The stable name of the row checksum column.
pub const ROW_CHECKSUM: &str = "Dynamics Row Checksum";
/// The stable name of the modification time column.
pub const MODIFIED_ON: &str = "Dynamics Modified On";

/// What a column's sample values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Guid,
    Date,
    Other,
    Unknown,
}

/// Whether any column is a Do-Not-Modify column.
pub(super) fn has_do_not_modify(names: &[String]) -> bool {
    names.iter().any(|n| is_do_not_modify(n))
}

fn is_do_not_modify(name: &str) -> bool {
    normalize_name(name).starts_with("donotmodify")
}

/// The aliases to add: `(stable name, column index)`, for the Do-Not-Modify columns among
/// `names`, judged by the `sample` rows (cells in header order).
pub(super) fn aliases(names: &[String], sample: &[Vec<Cell>]) -> Vec<(&'static str, usize)> {
    let columns: Vec<(usize, String, Shape)> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| is_do_not_modify(name))
        .map(|(i, name)| {
            let values = sample.iter().filter_map(|row| row.get(i));
            (i, normalize_name(name), shape(values))
        })
        .collect();
    if columns.is_empty() {
        return Vec::new();
    }
    let mut free: Vec<(usize, String, Shape)> = columns;
    let mut take = |pick: &dyn Fn(&(usize, String, Shape)) -> bool| {
        let at = free.iter().position(pick)?;
        Some(free.remove(at).0)
    };
    let id = take(&|(_, key, shape)| *shape == Shape::Guid && !key.contains("checksum"));
    let modified = take(&|(_, _, shape)| *shape == Shape::Date);
    let checksum = take(&|(_, key, _)| key.contains("checksum"));
    // Without values to judge by, Dynamics' order: id, checksum, modified on.
    let id = id.or_else(|| take(&|(_, _, shape)| *shape == Shape::Unknown));
    let checksum = checksum.or_else(|| take(&|(_, _, shape)| *shape != Shape::Guid));
    let modified = modified.or_else(|| take(&|(_, _, shape)| *shape == Shape::Unknown));
    [
        (RECORD_ID, id),
        (ROW_CHECKSUM, checksum),
        (MODIFIED_ON, modified),
    ]
    .into_iter()
    .filter_map(|(alias, column)| column.map(|c| (alias, c)))
    .collect()
}

/// The shape shared by every non-empty value, `Other` if they differ, `Unknown` if none.
fn shape<'a>(values: impl Iterator<Item = &'a Cell>) -> Shape {
    let mut seen = Shape::Unknown;
    for value in values {
        let this = match value {
            Cell::Empty => continue,
            Cell::String(s) if is_guid(s) => Shape::Guid,
            Cell::String(s) if looks_like_date(s) => Shape::Date,
            Cell::Date(_) | Cell::DateTime(_) => Shape::Date,
            Cell::String(_)
            | Cell::Int(_)
            | Cell::Float(_)
            | Cell::Bool(_)
            | Cell::Error(_)
            | Cell::Span { .. } => Shape::Other,
        };
        seen = match seen {
            Shape::Unknown => this,
            same if same == this => same,
            _ => return Shape::Other,
        };
    }
    seen
}

/// `8-4-4-4-12` hexadecimal digits, optionally in braces.
pub fn is_guid(text: &str) -> bool {
    let text = text.trim();
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Text dates as a re-saved CSV holds them: `5/20/2024 7:42`, `2024-05-20T07:42:00Z`.
fn looks_like_date(text: &str) -> bool {
    let text = text.trim();
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    text.len() <= 32
        && text.starts_with(|c: char| c.is_ascii_digit())
        && (text.contains('/') || text.contains('-') || text.contains('.'))
        && digits >= 6
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b" /-.:TZ+APMapm".contains(&b))
}
