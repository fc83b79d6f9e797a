//! Look-up tables other modules need: country and currency codes from the names CRMs export,
//! and the enum values allowed at each payload path.
//!
//! Names are matched after [`normalize`]: case, accents-as-typed, punctuation, extra spaces
//! and a leading "the" do not matter, so "U.S.A.", "the Netherlands" and "KOREA, REPUBLIC OF"
//! all resolve. Codes themselves (alpha-2, alpha-3, ISO 4217) are accepted as names too.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::enums::{
    AssistanceRequestCode, CustomerSize, Direction, ProfileType, ReferralQualification,
    ReferralStatus, ReferralSubstatus, ReferralType, SolutionType, TargetType,
};
use super::{countries, currencies, taxonomy};

/// Names people use for countries besides the ISO ones: short forms, native names, old names.
static COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("US", "USA"),
    ("US", "U.S."),
    ("US", "United States of America"),
    ("US", "America"),
    ("US", "Estados Unidos"),
    ("US", "Vereinigte Staaten"),
    ("US", "Etats-Unis"),
    ("GB", "UK"),
    ("GB", "U.K."),
    ("GB", "Great Britain"),
    ("GB", "Britain"),
    ("GB", "England"),
    ("GB", "Scotland"),
    ("GB", "Wales"),
    ("GB", "Northern Ireland"),
    ("GB", "Grossbritannien"),
    ("DE", "Deutschland"),
    ("DE", "Allemagne"),
    ("DE", "Alemania"),
    ("DE", "Germania"),
    ("FR", "Frankreich"),
    ("ES", "España"),
    ("ES", "Espana"),
    ("ES", "Spanien"),
    ("IT", "Italia"),
    ("IT", "Italien"),
    ("NL", "Holland"),
    ("NL", "Nederland"),
    ("NL", "Niederlande"),
    ("NL", "Pays-Bas"),
    ("BE", "België"),
    ("BE", "Belgie"),
    ("BE", "Belgique"),
    ("BE", "Belgien"),
    ("AT", "Österreich"),
    ("AT", "Osterreich"),
    ("AT", "Oesterreich"),
    ("CH", "Schweiz"),
    ("CH", "Suisse"),
    ("CH", "Svizzera"),
    ("CH", "Swiss Confederation"),
    ("SE", "Sverige"),
    ("SE", "Schweden"),
    ("NO", "Norge"),
    ("NO", "Norwegen"),
    ("DK", "Danmark"),
    ("DK", "Dänemark"),
    ("FI", "Suomi"),
    ("IS", "Ísland"),
    ("PL", "Polska"),
    ("PL", "Polen"),
    ("CZ", "Česko"),
    ("CZ", "Cesko"),
    ("CZ", "Czech Republic"),
    ("SK", "Slovensko"),
    ("HU", "Magyarország"),
    ("HU", "Ungarn"),
    ("RO", "România"),
    ("BG", "Bulgaria"),
    ("GR", "Ελλάδα"),
    ("GR", "Hellas"),
    ("GR", "Griechenland"),
    ("PT", "Portugal"),
    ("IE", "Éire"),
    ("IE", "Eire"),
    ("IE", "Irland"),
    ("HR", "Hrvatska"),
    ("SI", "Slovenija"),
    ("RS", "Srbija"),
    ("EE", "Eesti"),
    ("LV", "Latvija"),
    ("LT", "Lietuva"),
    ("LU", "Luxemburg"),
    ("UA", "Україна"),
    ("UA", "Ukraina"),
    ("RU", "Russia"),
    ("RU", "Россия"),
    ("RU", "Rossiya"),
    ("BY", "Belarus"),
    ("BY", "Byelorussia"),
    ("MD", "Moldova"),
    ("TR", "Turkey"),
    ("TR", "Türkei"),
    ("TR", "Turkiye"),
    ("CY", "Κύπρος"),
    ("JP", "日本"),
    ("JP", "Nippon"),
    ("JP", "Nihon"),
    ("CN", "中国"),
    ("CN", "PRC"),
    ("CN", "People's Republic of China"),
    ("CN", "Zhongguo"),
    ("CN", "Mainland China"),
    ("TW", "台灣"),
    ("TW", "Republic of China"),
    ("HK", "香港"),
    ("HK", "Hong Kong SAR"),
    ("MO", "Macau"),
    ("MO", "Macao SAR"),
    ("KR", "Korea"),
    ("KR", "대한민국"),
    ("KR", "Republic of Korea"),
    ("KR", "Korea, South"),
    ("KP", "DPRK"),
    ("KP", "Korea, North"),
    ("IN", "Bharat"),
    ("IN", "भारत"),
    ("VN", "Việt Nam"),
    ("TH", "Thailand"),
    ("TH", "ประเทศไทย"),
    ("ID", "Indonesia"),
    ("MY", "Malaysia"),
    ("PH", "Pilipinas"),
    ("SG", "Singapura"),
    ("LA", "Lao PDR"),
    ("MM", "Burma"),
    ("TL", "East Timor"),
    ("BN", "Brunei"),
    ("IR", "Persia"),
    ("SY", "Syria"),
    ("AE", "UAE"),
    ("AE", "U.A.E."),
    ("AE", "Emirates"),
    ("SA", "KSA"),
    ("SA", "Saudi"),
    ("PS", "Palestine"),
    ("IL", "ישראל"),
    ("EG", "مصر"),
    ("CI", "Ivory Coast"),
    ("CI", "Cote d'Ivoire"),
    ("CD", "DRC"),
    ("CD", "DR Congo"),
    ("CD", "Democratic Republic of the Congo"),
    ("CD", "Congo-Kinshasa"),
    ("CG", "Republic of the Congo"),
    ("CG", "Congo-Brazzaville"),
    ("CV", "Cape Verde"),
    ("SZ", "Swaziland"),
    ("MK", "Macedonia"),
    ("VA", "Vatican"),
    ("VA", "Vatican City"),
    ("VA", "Holy See"),
    ("FM", "Micronesia"),
    ("BO", "Bolivia"),
    ("VE", "Venezuela"),
    ("TZ", "Tanzania"),
    ("ZA", "RSA"),
    ("ZA", "Suid-Afrika"),
    ("NZ", "Aotearoa"),
    ("BR", "Brasil"),
    ("MX", "México"),
    ("PE", "Perú"),
    ("CO", "Colombia"),
    ("DO", "Dominican Rep."),
    ("KN", "Saint Kitts"),
    ("VC", "Saint Vincent"),
    ("TT", "Trinidad"),
    ("VG", "British Virgin Islands"),
    ("VI", "US Virgin Islands"),
    ("VI", "U.S. Virgin Islands"),
    ("FK", "Falklands"),
    ("BA", "Bosnia"),
    ("BA", "Bosnia-Herzegovina"),
    ("ME", "Crna Gora"),
];

/// Names currencies go by besides the ISO ones (Dynamics, .NET and everyday names).
static CURRENCY_ALIASES: &[(&str, &str)] = &[
    ("USD", "United States Dollar"),
    ("USD", "U.S. Dollar"),
    ("USD", "American Dollar"),
    ("USD", "US$"),
    ("EUR", "Euros"),
    ("EUR", "€"),
    ("GBP", "British Pound"),
    ("GBP", "British Pound Sterling"),
    ("GBP", "Sterling"),
    ("GBP", "£"),
    ("JPY", "Japanese Yen"),
    ("CNY", "Chinese Yuan"),
    ("CNY", "Chinese Yuan Renminbi"),
    ("CNY", "Renminbi"),
    ("CNY", "RMB"),
    ("KRW", "South Korean Won"),
    ("KRW", "Korean Won"),
    ("INR", "Rupee"),
    ("ZAR", "South African Rand"),
    ("PLN", "Polish Zloty"),
    ("PLN", "Polish Złoty"),
    ("HUF", "Hungarian Forint"),
    ("IDR", "Indonesian Rupiah"),
    ("THB", "Thai Baht"),
    ("VND", "Vietnamese Dong"),
    ("NGN", "Nigerian Naira"),
    ("PEN", "Peruvian Sol"),
    ("PEN", "Peruvian Nuevo Sol"),
    ("UAH", "Ukrainian Hryvnia"),
    ("ILS", "Israeli New Shekel"),
    ("ILS", "Israeli Shekel"),
    ("ILS", "New Israeli Shekel"),
    ("ISK", "Icelandic Krona"),
    ("ISK", "Icelandic Króna"),
    ("PKR", "Pakistani Rupee"),
    ("LKR", "Sri Lankan Rupee"),
    ("AED", "United Arab Emirates Dirham"),
    ("AED", "Emirati Dirham"),
    ("TWD", "Taiwan Dollar"),
    ("TWD", "Taiwan New Dollar"),
    ("OMR", "Omani Rial"),
    ("BDT", "Bangladeshi Taka"),
    ("KZT", "Kazakhstani Tenge"),
    ("UYU", "Uruguayan Peso"),
    ("CRC", "Costa Rican Colón"),
    ("MKD", "Macedonian Denar"),
    ("GEL", "Georgian Lari"),
    ("KES", "Kenya Shilling"),
    ("ZMW", "Zambia Kwacha"),
    ("MUR", "Mauritian Rupee"),
    ("JMD", "Jamaica Dollar"),
    ("GTQ", "Guatemalan Quetzal"),
    ("PYG", "Paraguayan Guarani"),
    ("BOB", "Bolivian Boliviano"),
    ("VES", "Venezuelan Bolívar"),
    ("VES", "Bolívar Soberano"),
];

/// Lower-cases and keeps letters and digits, with single spaces between words; a leading
/// "the" is dropped. Both the table keys and the looked-up names go through it.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '-' | '_' | '/' | '(' | ')'))
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric() || *c == '$' || *c == '€' || *c == '£')
        })
    {
        let word: String = word.flat_map(char::to_lowercase).collect();
        if word.is_empty() || (out.is_empty() && word == "the") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
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

/// Whether `code` is an ISO 3166-1 alpha-2 code, exactly (upper case, as the API wants it).
pub fn is_country_code(code: &str) -> bool {
    countries::ALPHA2.binary_search(&code).is_ok()
}

/// The alpha-2 code for a country name, alias, native name, alpha-3 or alpha-2 code, in any
/// case: "United States", "USA", "Deutschland", "GBR", "gb" → `US`, `US`, `DE`, `GB`, `GB`.
pub fn country_code(name: &str) -> Option<&'static str> {
    COUNTRY_INDEX.get(&normalize(name)).copied()
}

/// Whether `code` is an active ISO 4217 code, exactly (upper case).
pub fn is_currency_code(code: &str) -> bool {
    currencies::CODES.binary_search(&code).is_ok()
}

/// The ISO 4217 code for a currency name or code, in any case: Dynamics' "US Dollar",
/// "Euro", "Pound Sterling", "Japanese Yen", "Canadian Dollar"; or "usd".
pub fn currency_code(name: &str) -> Option<&'static str> {
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
