//! Which column feeds which target: every header is reduced to a base name and a context
//! (Dynamics' `(Potential Customer) (Account)` qualifiers, Dataverse's `customerid_account.`
//! paths, `_x_value@label`, Salesforce's `__c`), looked up in the name table, and the best
//! candidate whose sampled values fit the target wins. Targets the export lacks are looked
//! for in the `--lookup` files, joined by the column pair whose values match.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use super::names::{ACCOUNT_WORDS, Context, Target, fold, known};
use super::profile::{Column, Sample};
use super::values;

/// A header reduced for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The folded base name (`address1country`, `estrevenue`).
    pub base: String,
    pub context: Context,
    /// A formatted label (`@label`) rather than a raw value.
    pub labelled: bool,
    /// Qualifiers or a path were stripped to get the base.
    pub stripped: bool,
}

/// Reduce a header; `default` is the context of an unqualified name (`Own` for the export,
/// `Account` for a lookup file).
pub fn analyse(name: &str, default: Context) -> Header {
    let mut s = name.trim();
    let mut labelled = false;
    for suffix in ["@label", "@OData.Community.Display.V1.FormattedValue"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
            labelled = true;
        }
    }
    let mut context = default;
    let mut stripped = false;
    let mut qualifiers = Vec::new();
    while let Some(rest) = s.strip_suffix(')') {
        let Some(open) = rest.rfind('(') else { break };
        qualifiers.push(fold(&rest[open + 1..]));
        s = rest[..open].trim_end();
    }
    if !qualifiers.is_empty() {
        stripped = true;
        context = context_of(&qualifiers);
    }
    if !s.contains(char::is_whitespace)
        && let Some((prefix, last)) = s.rsplit_once('.')
        && !prefix.is_empty()
        && !last.is_empty()
    {
        stripped = true;
        context = context_of(&[fold(prefix)]);
        s = last;
    }
    if let Some(inner) = s.strip_prefix('_').and_then(|r| r.strip_suffix("_value")) {
        s = inner;
    }
    let s = s.strip_suffix("__c").unwrap_or(s);
    Header {
        base: fold(s),
        context,
        labelled,
        stripped,
    }
}

fn context_of(qualifiers: &[String]) -> Context {
    let account = qualifiers
        .iter()
        .any(|q| ACCOUNT_WORDS.iter().any(|w| q.contains(&fold(w))));
    if account {
        Context::Account
    } else {
        Context::Other
    }
}

/// How well a header names a target (higher is better); `None` when it does not.
pub fn score(header: &Header, target: Target) -> Option<i32> {
    let best = known(&header.base, header.context)
        .filter(|k| k.target == target)
        .map(|k| k.rank)
        .min()?;
    let mut score = 1000 - 10 * best as i32;
    if header.stripped {
        score -= 3;
    }
    if header.labelled && matches!(target, Target::Customer | Target::Currency | Target::Status) {
        score += 5;
    }
    Some(score)
}

/// A column chosen for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub column: String,
    /// Read through the lookup rather than from the export.
    pub lookup: bool,
}

/// A `--lookup` file and how it joins the export.
#[derive(Debug, Clone)]
pub struct Join {
    pub name: String,
    pub path: PathBuf,
    /// The lookup file's key column.
    pub key: String,
    /// The export column holding the key.
    pub on: String,
    /// Share of the export's keys found in the lookup, 0 to 1.
    pub matched: f64,
    pub sample: Sample,
}

/// Every target's column.
pub type Picks = BTreeMap<Target, Pick>;

/// The targets read from a column, in the order they are decided.
pub const TARGETS: &[Target] = &[
    Target::Id,
    Target::Name,
    Target::Customer,
    Target::Street,
    Target::City,
    Target::State,
    Target::PostalCode,
    Target::Country,
    Target::Status,
    Target::StatusReason,
    Target::DealValue,
    Target::Currency,
    Target::CloseDate,
    Target::Notes,
    Target::Created,
    Target::SyncFlag,
];

/// Targets a lookup file (the customer's account) may supply.
const ACCOUNT_TARGETS: &[Target] = &[
    Target::Customer,
    Target::Street,
    Target::City,
    Target::State,
    Target::PostalCode,
    Target::Country,
];

/// Choose a column for every target the export (or the lookup) can fill.
pub fn pick(sample: &Sample, join: Option<&Join>) -> Picks {
    let mut picks = Picks::new();
    let mut used: HashSet<(bool, String)> = HashSet::new();
    for &target in TARGETS {
        let own = best(sample, target, Context::Own, &used).map(|c| (c, false));
        let from_lookup = || {
            let join = join.filter(|_| ACCOUNT_TARGETS.contains(&target))?;
            best(&join.sample, target, Context::Account, &used).map(|c| (c, true))
        };
        if let Some((column, lookup)) = own.or_else(from_lookup) {
            used.insert((lookup, column.clone()));
            picks.insert(target, Pick { column, lookup });
        }
    }
    for (target, test) in [
        (Target::Country, values::is_country as fn(&Column) -> bool),
        (Target::Currency, values::is_currency),
    ] {
        if !picks.contains_key(&target)
            && let Some(pick) = by_values(sample, join, &used, test)
        {
            used.insert((pick.lookup, pick.column.clone()));
            picks.insert(target, pick);
        }
    }
    picks
}

/// The best-named column of `sample` for `target` whose values fit it.
fn best(
    sample: &Sample,
    target: Target,
    default: Context,
    used: &HashSet<(bool, String)>,
) -> Option<String> {
    let lookup = default == Context::Account;
    let mut candidates: Vec<(i32, &Column)> = sample
        .columns
        .iter()
        .filter(|c| !used.contains(&(lookup, c.name.clone())))
        .filter_map(|c| Some((score(&analyse(&c.name, default), target)?, c)))
        .collect();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
    candidates
        .into_iter()
        .find(|(_, c)| values::fits(target, c, sample.rows))
        .map(|(_, c)| c.name.clone())
}

/// A column of the export, else of the lookup, whose values pass `test`, whatever its name.
fn by_values(
    sample: &Sample,
    join: Option<&Join>,
    used: &HashSet<(bool, String)>,
    test: fn(&Column) -> bool,
) -> Option<Pick> {
    let search = |s: &Sample, lookup: bool| {
        s.columns
            .iter()
            .filter(|c| !used.contains(&(lookup, c.name.clone())))
            .find(|c| !c.texts.is_empty() && test(c))
            .map(|c| Pick {
                column: c.name.clone(),
                lookup,
            })
    };
    search(sample, false).or_else(|| join.and_then(|j| search(&j.sample, true)))
}

/// The export column and lookup column whose values match best: most of the export's
/// values found among the lookup's, the lookup's key unique. `None` below 50 %.
pub fn join_columns(export: &Sample, lookup: &Sample) -> Option<(String, String, f64)> {
    let mut best: Option<(String, String, f64)> = None;
    for key in lookup
        .columns
        .iter()
        .filter(|c| c.unique && !c.texts.is_empty())
    {
        let keys: HashSet<&str> = key.texts.iter().map(String::as_str).collect();
        for on in export.columns.iter().filter(|c| !c.texts.is_empty()) {
            let found = on
                .texts
                .iter()
                .filter(|t| keys.contains(t.as_str()))
                .count();
            let share = found as f64 / on.texts.len() as f64;
            if share >= 0.5 && best.as_ref().is_none_or(|b| share > b.2) {
                best = Some((key.name.clone(), on.name.clone(), share));
            }
        }
    }
    best
}
