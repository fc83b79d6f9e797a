//! The draft mapping as data: the external id, the lookup, the value tables and one entry per
//! Referral field, each with the comment that says where it came from. Built from the picks
//! and the sampled values; `render` turns it into TOML text.

use std::collections::HashSet;

use super::fields::Ctx;
use super::names::Target;
use super::pick::{Join, Pick, Picks};
use super::profile::Sample;

/// One field of the draft.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The Referral path, as row problems name it (`details.dealValue`).
    pub path: &'static str,
    /// The value, as inline TOML.
    pub value: String,
    /// A comment written above the line.
    pub note: Option<String>,
    /// The Referral needs it: it is never turned into a comment.
    pub required: bool,
    /// Written as a line (`true`) or as a commented suggestion (`false`).
    pub active: bool,
}

/// A value table (`[tables.NAME]`).
#[derive(Debug, Clone)]
pub struct Table {
    pub name: &'static str,
    pub values: Vec<(String, String)>,
}

/// The whole draft.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub inputs: Vec<String>,
    pub external_id: String,
    pub external_note: String,
    /// `[lookups.NAME]`: name, file, key, on, and a note.
    pub lookup: Option<(String, String, String, String, String)>,
    /// A column that flags rows to send, for a commented `[[filter]]`.
    pub filter_hint: Option<String>,
    pub tables: Vec<Table>,
    pub entries: Vec<Entry>,
    /// Columns nobody reads, for a closing comment.
    pub unmapped: Vec<String>,
    /// What the Referral needs and no column was found for, to tell the user.
    pub missing: Vec<String>,
}

/// A TOML string.
pub fn quote(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_owned()
}

/// A column reference: `"C"`, or an inline table with options, or through the lookup.
pub(super) fn reference(pick: &Pick, lookup: Option<&str>, options: &[(&str, String)]) -> String {
    let mut parts = Vec::new();
    if let (true, Some(name)) = (pick.lookup, lookup) {
        parts.push(format!("lookup = {}", quote(name)));
    }
    if parts.is_empty() && options.is_empty() {
        return quote(&pick.column);
    }
    parts.push(format!("column = {}", quote(&pick.column)));
    parts.extend(options.iter().map(|(k, v)| format!("{k} = {v}")));
    format!("{{ {} }}", parts.join(", "))
}

/// Build the draft from the sample and the picks.
pub fn build(sample: &Sample, picks: &Picks, join: Option<&Join>, lookup_file: &str) -> Draft {
    let mut draft = Draft {
        inputs: sample
            .paths
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        ..Draft::default()
    };
    external_id(&mut draft, sample, picks);
    if let Some(join) = join {
        let note = format!(
            "{:.0} % of the sampled {:?} values are found in {:?} of {}",
            join.matched * 100.0,
            join.on,
            join.key,
            join.path.display()
        );
        let file = lookup_file.to_owned();
        draft.lookup = Some((
            join.name.clone(),
            file,
            join.key.clone(),
            join.on.clone(),
            note,
        ));
    }
    draft.filter_hint = picks.get(&Target::SyncFlag).map(|p| p.column.clone());
    let ctx = Ctx {
        sample,
        picks,
        join,
        lookup: join.map(|j| j.name.as_str()),
    };
    ctx.top_fields(&mut draft);
    ctx.customer(&mut draft);
    ctx.details(&mut draft);
    draft.unmapped = unmapped(sample, picks, join);
    draft
}

/// The external id: the record id column, else a template of columns that do not change.
fn external_id(draft: &mut Draft, sample: &Sample, picks: &Picks) {
    if let Some(id) = picks.get(&Target::Id) {
        draft.external_id = quote(&id.column);
        draft.external_note = format!(
            "The record id column {:?}: unique in the sample and it never changes.",
            id.column
        );
        return;
    }
    let mut parts: Vec<&str> = [Target::Name, Target::Created, Target::Customer]
        .iter()
        .filter_map(|t| picks.get(t).filter(|p| !p.lookup))
        .map(|p| p.column.as_str())
        .take(2)
        .collect();
    if parts.is_empty() {
        // Nothing recognised: the first columns, for the user to replace.
        parts = sample
            .columns
            .iter()
            .take(2)
            .map(|c| c.name.as_str())
            .collect();
        draft
            .missing
            .push("a record id (external_id is a placeholder)".to_owned());
    }
    let template = parts
        .iter()
        .map(|c| format!("{{{c}}}"))
        .collect::<Vec<_>>()
        .join(" | ");
    let repeats = repeated(sample, &parts);
    draft.external_id = format!("{{ template = {} }}", quote(&template));
    draft.external_note = format!(
        "No column holds a unique record id, so the id is built from {} (the same opportunity\n\
         gives the same text in every export). Renaming one makes a new referral; {repeats} of \
         the sampled rows\nrepeat an earlier row's value (such a row is refused). Prefer an id \
         column if the export can include one.",
        parts
            .iter()
            .map(|c| format!("{c:?}"))
            .collect::<Vec<_>>()
            .join(" and ")
    );
}

/// How many sampled rows repeat an earlier row's values of `columns` (a row per position).
fn repeated(sample: &Sample, columns: &[&str]) -> usize {
    let cols: Vec<_> = columns.iter().filter_map(|c| sample.column(c)).collect();
    let Some(shortest) = cols.iter().map(|c| c.texts.len()).min() else {
        return 0;
    };
    let mut seen = HashSet::new();
    (0..shortest)
        .filter(|&i| !seen.insert(cols.iter().map(|c| c.texts[i].as_str()).collect::<Vec<_>>()))
        .count()
}

/// The export's columns no entry reads (the lookup's key column counts as read).
fn unmapped(sample: &Sample, picks: &Picks, join: Option<&Join>) -> Vec<String> {
    // The hidden re-import columns of a Dynamics workbook, and the reader's names for them.
    let hidden = |name: &str| name.starts_with("(Do Not Modify)") || name.starts_with("Dynamics ");
    let read: HashSet<&str> = picks
        .values()
        .filter(|p| !p.lookup)
        .map(|p| p.column.as_str())
        .chain(join.map(|j| j.on.as_str()))
        .collect();
    sample
        .columns
        .iter()
        .filter(|c| !read.contains(c.name.as_str()) && !hidden(&c.name))
        .map(|c| c.name.clone())
        .collect()
}
