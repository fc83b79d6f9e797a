//! Look-up tables other modules need: country and currency codes from the names CRMs export,
//! and the enum values allowed at each payload path.
//!
//! Names are matched after [`normalize`]: case, accents-as-typed, punctuation, extra spaces
//! and a leading "the" do not matter, so "U.S.A.", "the Netherlands" and "KOREA, REPUBLIC OF"
//! all resolve. Codes themselves (alpha-2, alpha-3, ISO 4217) are accepted as names too.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::aliases::{COUNTRY_ALIASES, CURRENCY_ALIASES};
use super::enums::{
    AssistanceRequestCode, CustomerSize, Direction, ProfileType, ReferralQualification,
    ReferralStatus, ReferralSubstatus, ReferralType, SolutionType, TargetType,
};
use super::{countries, currencies, taxonomy};

/// Lower-cases and keeps letters and digits, with single spaces between words; a leading
/// "the" is dropped. Both the table keys and the looked-up names go through it.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let separator = |c: char| c.is_whitespace() || matches!(c, ',' | '-' | '_' | '/' | '(' | ')');
    let kept = |c: &char| c.is_alphanumeric() || matches!(c, '$' | '€' | '£');
    for word in name.split(separator) {
        // Each word is written in place and taken back if it is empty or a leading "the".
        let before = out.len();
        if before > 0 {
            out.push(' ');
        }
        let start = out.len();
        out.extend(word.chars().filter(kept).flat_map(char::to_lowercase));
        let word = out.get(start..).unwrap_or_default();
        if word.is_empty() || (before == 0 && word == "the") {
            out.truncate(before);
        }
    }
    out
}

static COUNTRY_INDEX: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut index = HashMap::new();
    for &(alpha2, alpha3, names) in countries::COUNTRIES {
        index.entry(normalize(alpha2)).or_insert(alpha2);
        index.entry(normalize(alpha3)).or_insert(alpha2);
        for name in names {
            index.entry(normalize(name)).or_insert(alpha2);
        }
    }
    for &(alpha2, alias) in COUNTRY_ALIASES {
        index.entry(normalize(alias)).or_insert(alpha2);
    }
    index
});

static CURRENCY_INDEX: LazyLock<HashMap<String, &'static str>> = LazyLock::new(|| {
    let mut index = HashMap::new();
    for &(code, _) in currencies::CURRENCIES {
        index.insert(normalize(code), code);
    }
    // Aliases before ISO names: they settle the names ISO gives to two codes.
    for &(code, alias) in CURRENCY_ALIASES {
        index.entry(normalize(alias)).or_insert(code);
    }
    for &(code, name) in currencies::CURRENCIES {
        index.entry(normalize(name)).or_insert(code);
    }
    index
});

/// The names of the tables exactly as written there (trimmed input that matches one needs no
/// normalising), each with the code its normalised form finds: the same answer, sooner.
static COUNTRY_EXACT: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    let mut names: Vec<&'static str> = Vec::new();
    for &(alpha2, alpha3, aliases) in countries::COUNTRIES {
        names.extend([alpha2, alpha3]);
        names.extend(aliases.iter().copied());
    }
    names.extend(COUNTRY_ALIASES.iter().map(|&(_, alias)| alias));
    exact_index(&names, &COUNTRY_INDEX)
});

static CURRENCY_EXACT: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    let mut names: Vec<&'static str> = Vec::new();
    for &(code, name) in currencies::CURRENCIES {
        names.extend([code, name]);
    }
    names.extend(CURRENCY_ALIASES.iter().map(|&(_, alias)| alias));
    exact_index(&names, &CURRENCY_INDEX)
});

fn exact_index(
    names: &[&'static str],
    index: &HashMap<String, &'static str>,
) -> HashMap<&'static str, &'static str> {
    names
        .iter()
        .filter_map(|&name| Some((name, *index.get(&normalize(name))?)))
        .collect()
}

/// Whether `code` is an ISO 3166-1 alpha-2 code, exactly (upper case, as the API wants it).
pub fn is_country_code(code: &str) -> bool {
    countries::ALPHA2.binary_search(&code).is_ok()
}

/// The alpha-2 code for a country name, alias, native name, alpha-3 or alpha-2 code, in any
/// case: "United States", "USA", "Deutschland", "GBR", "gb" → `US`, `US`, `DE`, `GB`, `GB`.
pub fn country_code(name: &str) -> Option<&'static str> {
    if let Some(code) = COUNTRY_EXACT.get(name.trim()) {
        return Some(code);
    }
    COUNTRY_INDEX.get(&normalize(name)).copied()
}

/// Whether `code` is an active ISO 4217 code, exactly (upper case).
pub fn is_currency_code(code: &str) -> bool {
    currencies::CODES.binary_search(&code).is_ok()
}

/// The ISO 4217 code for a currency name or code, in any case: Dynamics' "US Dollar",
/// "Euro", "Pound Sterling", "Japanese Yen", "Canadian Dollar"; or "usd".
pub fn currency_code(name: &str) -> Option<&'static str> {
    if let Some(code) = CURRENCY_EXACT.get(name.trim()) {
        return Some(code);
    }
    CURRENCY_INDEX.get(&normalize(name)).copied()
}

/// The values allowed at a payload path, for checking value-map outputs; `None` for a
/// free-form path.
///
/// Path syntax: field names joined by `.`, as in the JSON (`customerProfile.size`); an array
/// element is `[]` (`target[].type`). A concrete index (`target[0].type`) is accepted too.
/// The known paths: `status`, `substatus`, `type`, `qualification`, `direction`,
/// `customerProfile.size`, `customerProfile.address.country`, `customerProfile.ids[].profileType`,
/// `details.currency`, `details.requirements.industries[].id`, `…products[].id`,
/// `…services[].id`, `details.requirements.solutions[].type`, `target[].type`,
/// `inviteContext.assistanceRequestCode`. `substatus` lists every substatus; which fit a given
/// status is [`super::substatuses_of`]. Solution ids are not listed: with `type: Name` they are
/// free-form (see [`solution_categories`] for `type: Category`).
pub fn allowed_values(path: &str) -> Option<&'static [&'static str]> {
    let values: &'static [&'static str] = match generic_path(path).as_str() {
        "status" => ReferralStatus::VALUES,
        "substatus" => ReferralSubstatus::VALUES,
        "type" => ReferralType::VALUES,
        "qualification" => ReferralQualification::VALUES,
        "direction" => Direction::VALUES,
        "customerProfile.size" => CustomerSize::VALUES,
        "customerProfile.address.country" => countries::ALPHA2,
        "customerProfile.ids[].profileType" => ProfileType::VALUES,
        "details.currency" => currencies::CODES,
        "details.requirements.industries[].id" => taxonomy::INDUSTRIES,
        "details.requirements.products[].id" => taxonomy::PRODUCTS,
        "details.requirements.services[].id" => taxonomy::SERVICES,
        "details.requirements.solutions[].type" => SolutionType::VALUES,
        "target[].type" => TargetType::VALUES,
        "inviteContext.assistanceRequestCode" => AssistanceRequestCode::VALUES,
        _ => return None,
    };
    Some(values)
}

/// The documented solution category ids (for `solutions[].id` when `type` is `Category`).
pub fn solution_categories() -> &'static [&'static str] {
    taxonomy::SOLUTION_CATEGORIES
}

/// `target[3].type` → `target[].type`; a leading `$.` or `/` is dropped.
fn generic_path(path: &str) -> String {
    let path = path.trim().trim_start_matches("$.").trim_start_matches('/');
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
