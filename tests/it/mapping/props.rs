//! Properties of the conversions: decimals, dates and bools read back what was written, and
//! no text makes them panic.

use jiff::civil::Date;
use proptest::prelude::*;
use referral_sync::mapping::{BoolWords, date_utc, parse_bool, parse_date, parse_decimal};

/// Digits grouped by three with `sep` (`1234567` → `1,234,567`).
fn grouped(n: u64, sep: char) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

proptest! {
    #[test]
    fn decimals_read_back_with_separators_and_symbols(
        whole in 0u64..1_000_000_000_000,
        cents in 0u32..100,
        negative: bool,
        comma: bool,
        symbol in prop::sample::select(vec!["", "$", "€ ", " €", "USD "]),
    ) {
        let (sep, point) = if comma { ('.', ',') } else { (',', '.') };
        let body = format!("{}{point}{cents:02}", grouped(whole, sep));
        let text = match (symbol.starts_with(' '), negative) {
            (true, true) => format!("-{body}{symbol}"),
            (true, false) => format!("{body}{symbol}"),
            (false, true) => format!("{symbol}-{body}"),
            (false, false) => format!("{symbol}{body}"),
        };
        let expected = (whole as f64 + f64::from(cents) / 100.0) * if negative { -1.0 } else { 1.0 };
        let got = parse_decimal(&text, comma).unwrap();
        prop_assert!((got - expected).abs() <= expected.abs() * 1e-12, "{text} -> {got}");
    }

    #[test]
    fn decimals_never_panic(text in ".{0,40}", comma: bool) {
        let _ = parse_decimal(&text, comma);
    }

    #[test]
    fn misgrouped_thousands_are_rejected(a in 1u32..1000, b in 0u32..100) {
        let text = format!("{a},{b:02}");
        prop_assert!(parse_decimal(&text, false).is_err(), "{text}");
    }

    #[test]
    fn dates_read_back_in_any_format(days in 0i32..60_000, format in prop::sample::select(vec!["%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d", "%-m/%-d/%Y"])) {
        let day = Date::new(1900, 1, 1).unwrap().checked_add(jiff::Span::new().days(days)).unwrap();
        let text = day.strftime(format).to_string();
        let got = parse_date(&text, &[format.to_string()]).unwrap();
        prop_assert_eq!(got, day);
        prop_assert_eq!(date_utc(got), format!("{day}T00:00:00Z"));
    }

    #[test]
    fn dates_never_panic(text in ".{0,30}") {
        let _ = parse_date(&text, &["%m/%d/%Y".to_string(), "%Y-%m-%d".to_string()]);
    }

    #[test]
    fn bools_follow_the_words_in_any_case(word in prop::sample::select(vec!["yes", "Y", "TRUE", "1", "no", "N", "false", "0"]), pad in " {0,2}") {
        let words = BoolWords::default();
        let expected = ["yes", "y", "true", "1"].contains(&word.to_lowercase().as_str());
        prop_assert_eq!(parse_bool(&format!("{pad}{word}{pad}"), &words).unwrap(), expected);
    }

    #[test]
    fn unknown_bool_words_are_errors(word in "[a-z]{2,8}") {
        let words = BoolWords { truthy: vec!["ja".into()], falsy: vec!["nein".into()] };
        prop_assume!(word != "ja" && word != "nein");
        prop_assert!(parse_bool(&word, &words).is_err());
    }
}

/// The shipped template, to mutate.
fn template_text() -> String {
    std::fs::read_to_string(super::root().join("mappings/template.toml")).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_mapping_text_loads_or_reports_without_panicking(text in "(?s).{0,300}") {
        let _ = referral_sync::mapping::Mapping::from_str(std::path::Path::new("fuzz.toml"), &text, &[]);
    }

    #[test]
    fn cut_or_edited_templates_load_or_report_without_panicking(
        cut in 0usize..8000,
        at in 0usize..8000,
        insert in prop::sample::select(vec!["", "[", "]", "{", "\"", "=", "\n[fields]\n", "x = 1\n", "[[fields.team]]\n", "map = 3\n"]),
    ) {
        let text = template_text();
        let cut = cut.min(text.len());
        let at = at.min(cut);
        let (Some(head), Some(tail)) = (text.get(..at), text.get(at..cut)) else {
            return Ok(());
        };
        let edited = format!("{head}{insert}{tail}");
        let _ = referral_sync::mapping::Mapping::from_str(std::path::Path::new("fuzz.toml"), &edited, &[]);
    }

    #[test]
    fn wrong_value_types_are_reported_not_panics(
        key in prop::sample::select(vec!["external_id", "fields", "filter", "lookups", "tables", "connected", "version"]),
        value in prop::sample::select(vec!["3", "[]", "[1, 2]", "\"x\"", "{}", "{ a = 1 }", "true", "[{ column = 1 }]"]),
    ) {
        let text = format!("{key} = {value}\n");
        let result = referral_sync::mapping::Mapping::from_str(std::path::Path::new("fuzz.toml"), &text, &[]);
        prop_assert!(result.is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_cell_text_maps_or_fails_without_panicking(values in prop::collection::vec("(?s).{0,24}", 18)) {
        let root = super::root();
        let overrides = [("accounts".to_string(), root.join("samples/template/accounts.csv"))];
        let mapping = referral_sync::mapping::Mapping::load_with_lookups(
            &root.join("mappings/template.toml"),
            &overrides,
        )
        .map_err(|d| TestCaseError::fail(d.to_string()))?;
        let headers: Vec<&str> = mapping.columns().iter().map(String::as_str).collect();
        let cells: Vec<&str> = values.iter().map(String::as_str).take(headers.len()).collect();
        let row = super::row(&headers, &cells);
        let _ = super::map(&mapping, &row);
    }
}
