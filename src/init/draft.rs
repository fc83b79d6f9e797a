//! The draft mapping as data: the external id, the lookup, the value tables and one entry per
//! Referral field, each with the comment that says where it came from. Built from the picks
//! and the sampled values; `render` turns it into TOML text.

use std::collections::HashSet;

use super::names::Target;
use super::pick::{Join, Pick, Picks};
use super::profile::Sample;
use super::values::{self, status_pair, status_values};

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
}

/// A TOML string.
pub fn quote(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_owned()
}

/// A column reference: `"C"`, or an inline table with options, or through the lookup.
fn reference(pick: &Pick, lookup: Option<&str>, options: &[(&str, String)]) -> String {
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
    let parts: Vec<&str> = [Target::Name, Target::Created, Target::Customer]
        .iter()
        .filter_map(|t| picks.get(t).filter(|p| !p.lookup))
        .map(|p| p.column.as_str())
        .take(2)
        .collect();
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

struct Ctx<'a> {
    sample: &'a Sample,
    picks: &'a Picks,
    join: Option<&'a Join>,
    lookup: Option<&'a str>,
}

impl Ctx<'_> {
    fn column(&self, pick: &Pick) -> Option<&super::profile::Column> {
        if pick.lookup {
            self.join?.sample.column(&pick.column)
        } else {
            self.sample.column(&pick.column)
        }
    }

    fn entry(
        &self,
        draft: &mut Draft,
        path: &'static str,
        target: Target,
        options: &[(&str, String)],
    ) {
        if let Some(pick) = self.picks.get(&target) {
            let mut options = options.to_vec();
            if pick.lookup {
                options.push(("default", quote("")));
            }
            draft
                .entries
                .push(active(path, reference(pick, self.lookup, &options), None));
        }
    }

    fn top_fields(&self, draft: &mut Draft) {
        let required = [("required", "true".to_owned())];
        match (
            self.picks.get(&Target::Name),
            self.picks.get(&Target::Customer),
        ) {
            (Some(pick), _) => {
                draft
                    .entries
                    .push(fixed("name", reference(pick, self.lookup, &required), None))
            }
            (None, Some(pick)) => {
                let note = "No opportunity name column: the customer's name stands in.";
                draft.entries.push(fixed(
                    "name",
                    reference(pick, self.lookup, &required),
                    Some(note.into()),
                ));
            }
            (None, None) => {}
        }
        draft
            .entries
            .push(fixed("type", "{ value = \"Independent\" }".into(), None));
        draft.entries.push(fixed(
            "qualification",
            "{ value = \"SalesQualified\" }".into(),
            None,
        ));
        self.status(draft);
        self.entry(draft, "statusReason", Target::StatusReason, &[]);
    }

    fn status(&self, draft: &mut Draft) {
        let found = self
            .picks
            .get(&Target::Status)
            .and_then(|p| Some((p, self.column(p)?)));
        let Some((pick, column)) = found else {
            let note = "No status column: every referral starts as New/Pending.";
            draft.entries.push(fixed(
                "status",
                "{ value = \"New\" }".into(),
                Some(note.into()),
            ));
            draft
                .entries
                .push(fixed("substatus", "{ value = \"Pending\" }".into(), None));
            return;
        };
        let numeric = super::pick::analyse(&pick.column, super::names::Context::Own).base
            == "statecode"
            && column.distinct.iter().all(|v| v.parse::<u8>().is_ok());
        let read = status_values(column, numeric);
        let table = |name, second: bool| Table {
            name,
            values: read
                .iter()
                .map(|(v, o)| {
                    let (status, substatus) = status_pair(*o);
                    (
                        v.clone(),
                        if second { substatus } else { status }.to_owned(),
                    )
                })
                .collect(),
        };
        draft.tables.push(table("status", false));
        draft.tables.push(table("substatus", true));
        let note = format!(
            "From {:?}: the values seen in the sample, read as open (New/Pending), won or lost\n\
             (Closed/Won, Closed/Lost). A value not in the tables fails its row: add it.",
            pick.column
        );
        let opts = [("map", quote("status")), ("required", "true".into())];
        draft.entries.push(fixed(
            "status",
            reference(pick, self.lookup, &opts),
            Some(note),
        ));
        let opts = [("map", quote("substatus")), ("required", "true".into())];
        draft.entries.push(fixed(
            "substatus",
            reference(pick, self.lookup, &opts),
            None,
        ));
    }

    fn customer(&self, draft: &mut Draft) {
        let required = [("required", "true".to_owned())];
        let name = self
            .picks
            .get(&Target::Customer)
            .or_else(|| self.picks.get(&Target::Name));
        if let Some(pick) = name {
            draft.entries.push(fixed(
                "customerProfile.name",
                reference(pick, self.lookup, &required),
                None,
            ));
        }
        self.entry(
            draft,
            "customerProfile.address.addressLine1",
            Target::Street,
            &[],
        );
        self.entry(draft, "customerProfile.address.city", Target::City, &[]);
        self.entry(draft, "customerProfile.address.state", Target::State, &[]);
        self.entry(
            draft,
            "customerProfile.address.postalCode",
            Target::PostalCode,
            &[],
        );
        if let Some(pick) = self.picks.get(&Target::Country) {
            let opts = [("map", quote("country")), ("required", "true".into())];
            draft.entries.push(fixed(
                "customerProfile.address.country",
                reference(pick, self.lookup, &opts),
                None,
            ));
            return;
        }
        let currencies = self
            .picks
            .get(&Target::Currency)
            .and_then(|p| self.column(p));
        let inferred = currencies
            .and_then(|c| values::country_of_currencies(c.distinct.iter().map(String::as_str)));
        let (code, note) = match inferred {
            Some(code) => (code, format!("CHECK: no column holds the customer's country; every sampled deal is in\nthe currency of {code}, so {code} is assumed. Add the country to the export if customers\nare elsewhere.")),
            None => ("US", "CHANGE: no column holds the customer's country and nothing in the sample\ntells it; US is a placeholder. Add the country to the export, or set the right code.".to_owned()),
        };
        draft.entries.push(fixed(
            "customerProfile.address.country",
            format!("{{ value = {} }}", quote(code)),
            Some(note),
        ));
    }

    fn details(&self, draft: &mut Draft) {
        self.entry(draft, "details.notes", Target::Notes, &[]);
        self.deal_value(draft);
        self.currency(draft);
        self.close_date(draft);
    }

    fn deal_value(&self, draft: &mut Draft) {
        let Some(pick) = self.picks.get(&Target::DealValue) else {
            return;
        };
        let mut opts = vec![("type", quote("decimal"))];
        if self.column(pick).and_then(values::decimal_comma) == Some(true) {
            opts.push(("decimal_comma", "true".into()));
        }
        draft.entries.push(active(
            "details.dealValue",
            reference(pick, self.lookup, &opts),
            None,
        ));
    }

    fn currency(&self, draft: &mut Draft) {
        if let Some(pick) = self.picks.get(&Target::Currency) {
            let opts = [("map", quote("currency"))];
            draft.entries.push(active(
                "details.currency",
                reference(pick, self.lookup, &opts),
                None,
            ));
            return;
        }
        let amounts = self
            .picks
            .get(&Target::DealValue)
            .and_then(|p| self.column(p));
        let named: HashSet<&str> = amounts
            .into_iter()
            .flat_map(|c| c.distinct.iter())
            .filter_map(|t| values::currency_in_amount(t))
            .collect();
        if let [code] = named.into_iter().collect::<Vec<_>>()[..] {
            let note = format!("No currency column; the amounts are written in {code}.");
            draft.entries.push(active(
                "details.currency",
                format!("{{ value = {} }}", quote(code)),
                Some(note),
            ));
        } else {
            let mut entry = active(
                "details.currency",
                "{ value = \"USD\" }".into(),
                Some("No currency column: set the currency of the deal values.".into()),
            );
            entry.active = false;
            draft.entries.push(entry);
        }
    }

    fn close_date(&self, draft: &mut Draft) {
        let found = self
            .picks
            .get(&Target::CloseDate)
            .and_then(|p| Some((p, self.column(p)?)));
        let Some((pick, column)) = found else { return };
        let mut opts = vec![("type", quote("date"))];
        if column.typed_dates < column.texts.len()
            && let Some(formats) = values::date_formats(column)
            && column.share(|t| crate::mapping::parse_date(t, &["%Y-%m-%d".into()]).is_ok()) < 1.0
        {
            let list: Vec<String> = formats.iter().map(|f| quote(f)).collect();
            let value = if list.len() == 1 {
                list[0].clone()
            } else {
                format!("[{}]", list.join(", "))
            };
            opts.push(("format", value));
        }
        draft.entries.push(active(
            "details.closingDateTime",
            reference(pick, self.lookup, &opts),
            None,
        ));
    }
}

fn active(path: &'static str, value: String, note: Option<String>) -> Entry {
    Entry {
        path,
        value,
        note,
        required: false,
        active: true,
    }
}

fn fixed(path: &'static str, value: String, note: Option<String>) -> Entry {
    Entry {
        path,
        value,
        note,
        required: true,
        active: true,
    }
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
