//! The Referral fields of a draft, one builder per part: the top-level fields with the
//! status tables, the customer and its address (with the country inferred when no column
//! holds it), and the deal details (money, currency, closing date).

use std::collections::HashSet;

use super::draft::{Draft, Entry, Table, quote, reference};
use super::names::{Context, Target};
use super::pick::{Join, Pick, Picks, analyse};
use super::profile::{Column, Sample};
use super::values::{self, status_pair, status_values};

/// What the field builders read from.
pub struct Ctx<'a> {
    pub sample: &'a Sample,
    pub picks: &'a Picks,
    pub join: Option<&'a Join>,
    pub lookup: Option<&'a str>,
}

impl Ctx<'_> {
    fn column(&self, pick: &Pick) -> Option<&Column> {
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

    pub fn top_fields(&self, draft: &mut Draft) {
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
        let numeric = analyse(&pick.column, Context::Own).base == "statecode"
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

    pub fn customer(&self, draft: &mut Draft) {
        let required = [("required", "true".to_owned())];
        let name = self
            .picks
            .get(&Target::Customer)
            .or_else(|| self.picks.get(&Target::Name));
        match name {
            Some(pick) => draft.entries.push(fixed(
                "customerProfile.name",
                reference(pick, self.lookup, &required),
                None,
            )),
            None => {
                let note = "CHANGE: no column was recognised as the customer's name; name it here.";
                let mut entry = fixed(
                    "customerProfile.name",
                    quote("CUSTOMER NAME COLUMN"),
                    Some(note.into()),
                );
                entry.active = false;
                draft.entries.push(entry);
                draft
                    .missing
                    .push("the customer's name (customerProfile.name)".to_owned());
            }
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

    pub fn details(&self, draft: &mut Draft) {
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
