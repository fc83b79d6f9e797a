//! Writes a [`Draft`] as a commented TOML mapping in the layout of the shipped mappings:
//! the id, the lookup and the value tables first, then `[fields]` by section, with every
//! guess explained in a comment and every undecided field as a commented suggestion.

use std::fmt::Write;

use super::draft::{Draft, Entry, quote};

/// The sections of `[fields]`, in order, by the first segment of a path.
const SECTIONS: &[(&str, &str)] = &[
    ("", "fields"),
    ("customerProfile", "fields.customerProfile"),
    ("consent", "fields.consent"),
    ("details", "fields.details"),
];

/// Consent cannot be read from an export; these are the cautious answers.
const CONSENT: &str = "consentToContact = true\n\
    consentToToShareInfoWithOthers = false\n\
    consentToShareReferralWithMicrosoftSellers = false\n";

/// The mapping text of a draft.
pub fn render(draft: &Draft) -> String {
    let mut out = String::new();
    header(&mut out, draft);
    if let Some((name, file, key, on, note)) = &draft.lookup {
        let text = format!(
            "The customer's account, joined by {on:?}: {note}. `file` is relative to this mapping file; `--lookup {name}=PATH` reads another."
        );
        comment(&mut out, &wrap(&text, 94));
        let _ = writeln!(
            out,
            "[lookups.{name}]\nfile = {}\nkey = {}\non = {}\n",
            quote(file),
            quote(key),
            quote(on)
        );
    }
    for table in &draft.tables {
        let values: Vec<String> = table
            .values
            .iter()
            .map(|(k, v)| format!("{} = {}", quote(k), quote(v)))
            .collect();
        let _ = writeln!(
            out,
            "[tables.{}]\nvalues = {{ {} }}\n",
            table.name,
            values.join(", ")
        );
    }
    for (prefix, section) in SECTIONS {
        let _ = writeln!(out, "[{section}]");
        if *prefix == "consent" {
            comment(
                &mut out,
                "Consent is not in the export: partner-led defaults; review them.",
            );
            out.push_str(CONSENT);
        }
        for entry in draft
            .entries
            .iter()
            .filter(|e| section_of(e.path) == *prefix)
        {
            line(&mut out, entry, prefix);
        }
        out.push('\n');
    }
    footer(&mut out, draft);
    out
}

fn header(out: &mut String, draft: &Draft) {
    comment(
        out,
        &format!(
            "Drafted by `referral-sync init` from {}.\nEvery choice below is a guess from the column names and a sample of the rows: read\nthe comments, then `referral-sync check` and `referral-sync preview --limit 5`.\nReference: mappings/README.md.",
            draft.inputs.join(", ")
        ),
    );
    let _ = writeln!(
        out,
        "version = 1\ndescription = {}\n",
        quote(&format!("Drafted from {}", draft.inputs.join(", ")))
    );
    comment(out, &draft.external_note);
    let _ = writeln!(out, "external_id = {}\n", draft.external_id);
    if let Some(column) = &draft.filter_hint {
        comment(
            out,
            &format!(
                "To send only the rows flagged in {column:?}, keep this filter:\n[[filter]]\ncolumn = {}\nequals = \"Yes\"",
                quote(column)
            ),
        );
        out.push('\n');
    }
}

fn footer(out: &mut String, draft: &Draft) {
    if draft.unmapped.is_empty() {
        return;
    }
    let list: Vec<String> = draft.unmapped.iter().take(60).map(|c| quote(c)).collect();
    let more = draft.unmapped.len().saturating_sub(list.len());
    let mut text = format!(
        "Columns not mapped (add any that belong in the referral): {}",
        list.join(", ")
    );
    if more > 0 {
        let _ = write!(text, " and {more} more");
    }
    comment(out, &wrap(&text, 94));
}

/// The section a path belongs to (`customerProfile.name` → `customerProfile`).
fn section_of(path: &str) -> &str {
    match path.split_once('.') {
        Some((first, _)) if SECTIONS.iter().any(|(p, _)| *p == first) => first,
        _ => "",
    }
}

fn line(out: &mut String, entry: &Entry, prefix: &str) {
    if let Some(note) = &entry.note {
        comment(out, note);
    }
    let key = entry
        .path
        .strip_prefix(prefix)
        .map_or(entry.path, |k| k.trim_start_matches('.'));
    let key = if prefix.is_empty() { entry.path } else { key };
    let hash = if entry.active { "" } else { "# " };
    let _ = writeln!(out, "{hash}{key} = {}", entry.value);
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "# {line}");
    }
}

/// Break `text` into lines of at most about `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut current = 0;
    for word in text.split(' ') {
        if current > 0 && current + word.len() + 1 > width {
            out.push('\n');
            current = 0;
        } else if current > 0 {
            out.push(' ');
            current += 1;
        }
        out.push_str(word);
        current += word.len();
    }
    out
}
