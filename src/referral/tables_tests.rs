//! Unit tests of the country, currency and allowed-value tables.

use super::super::aliases::{COUNTRY_ALIASES, CURRENCY_ALIASES};
use super::super::{countries, currencies};
use super::*;

#[test]
fn every_iso_country_resolves_by_code_name_and_alpha3() {
    assert_eq!(countries::COUNTRIES.len(), 249);
    for &(alpha2, alpha3, names) in countries::COUNTRIES {
        assert!(is_country_code(alpha2), "{alpha2}");
        assert_eq!(country_code(alpha2), Some(alpha2));
        assert_eq!(country_code(&alpha2.to_lowercase()), Some(alpha2));
        assert_eq!(country_code(alpha3), Some(alpha2), "{alpha3}");
        for name in names {
            assert_eq!(country_code(name), Some(alpha2), "{name}");
        }
    }
}

#[test]
fn every_country_alias_resolves_to_its_own_code() {
    for &(alpha2, alias) in COUNTRY_ALIASES {
        assert!(is_country_code(alpha2), "alias target {alpha2}");
        assert_eq!(country_code(alias), Some(alpha2), "{alias}");
    }
}

#[test]
fn common_country_spellings() {
    let cases = [
        ("United States", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("united states of america", "US"),
        ("  United   States ", "US"),
        ("Deutschland", "DE"),
        ("GERMANY", "DE"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("the Netherlands", "NL"),
        ("Korea, Republic of", "KR"),
        ("South Korea", "KR"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Russia", "RU"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("UAE", "AE"),
        ("Czech Republic", "CZ"),
        ("España", "ES"),
    ];
    for (name, code) in cases {
        assert_eq!(country_code(name), Some(code), "{name}");
    }
}

#[test]
fn unknown_countries_and_lowercase_codes() {
    assert_eq!(country_code("Atlantis"), None);
    assert_eq!(country_code(""), None);
    assert!(!is_country_code("us"));
    assert!(!is_country_code("USA"));
    assert!(!is_country_code("United States"));
    assert!(!is_country_code("UK"));
}

#[test]
fn every_currency_resolves_by_code_and_name() {
    for &(code, name) in currencies::CURRENCIES {
        assert!(is_currency_code(code), "{code}");
        assert_eq!(currency_code(&code.to_lowercase()), Some(code));
        // Two ISO names are shared by two codes; aliases settle them.
        if name != "Bolívar Soberano" {
            assert_eq!(currency_code(name), Some(code), "{name}");
        }
    }
    for &(code, alias) in CURRENCY_ALIASES {
        assert!(is_currency_code(code), "alias target {code}");
        assert_eq!(currency_code(alias), Some(code), "{alias}");
    }
}

#[test]
fn dynamics_currency_names() {
    let cases = [
        ("US Dollar", "USD"),
        ("us dollar", "USD"),
        ("Euro", "EUR"),
        ("Pound Sterling", "GBP"),
        ("British Pound", "GBP"),
        ("Japanese Yen", "JPY"),
        ("Yen", "JPY"),
        ("Canadian Dollar", "CAD"),
        ("Swiss Franc", "CHF"),
        ("Indian Rupee", "INR"),
        ("Chinese Yuan", "CNY"),
    ];
    for (name, code) in cases {
        assert_eq!(currency_code(name), Some(code), "{name}");
    }
}

#[test]
fn withdrawn_and_non_currency_codes_are_rejected() {
    for code in ["HRK", "XXX", "XTS", "XAU", "usd", "US$", "Dollars"] {
        assert!(!is_currency_code(code), "{code}");
    }
    assert!(is_currency_code("ZWG"));
    assert_eq!(currency_code("Dollars"), None);
}

#[test]
fn allowed_values_by_path() {
    assert_eq!(allowed_values("type"), Some(&["Shared", "Independent"][..]));
    assert_eq!(
        allowed_values("target[].type"),
        allowed_values("target[2].type")
    );
    assert!(
        allowed_values("details.requirements.industries[].id")
            .is_some_and(|values| values.contains(&"Agriculture, Forestry, & Fishing"))
    );
    assert!(
        allowed_values("details.requirements.products[0].id")
            .is_some_and(|values| values.contains(&"DynamicsAX,GP,NAV,SL"))
    );
    assert!(
        allowed_values("customerProfile.size")
            .is_some_and(|values| values.contains(&"10to50employees"))
    );
    assert!(
        allowed_values("customerProfile.address.country")
            .is_some_and(|values| values.len() == 249 && values.contains(&"US"))
    );
    assert!(allowed_values("details.currency").is_some_and(|values| values.contains(&"EUR")));
    assert_eq!(allowed_values("name"), None);
    assert_eq!(allowed_values("details.notes"), None);
}

#[test]
fn code_lists_are_sorted_for_binary_search() {
    assert!(countries::ALPHA2.windows(2).all(|w| w[0] < w[1]));
    assert!(currencies::CODES.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(currencies::CODES.len(), currencies::CURRENCIES.len());
}

#[test]
fn normalize_folds_case_punctuation_and_the() {
    assert_eq!(normalize("  The  Netherlands "), "netherlands");
    assert_eq!(normalize("Korea, Republic of"), "korea republic of");
    assert_eq!(normalize("U.S.A."), "usa");
    assert_eq!(normalize(""), "");
}
