//! Mapping-file problems that used to pass unnoticed or point at the wrong place: date
//! formats that can never read a value, and a byte that is not UTF-8.

use std::path::Path;

use referral_sync::mapping::Mapping;

use super::{BASE, compile, diagnostics};

#[test]
fn a_date_format_that_can_never_match_is_located_at_its_string() {
    let text = format!(
        "{BASE}details.closingDateTime = {{ column = \"Close\", format = \"%Q\" }}\n\
         customerProfile.address.city = {{ column = \"Since\", type = \"date\", format = \"\" }}\n"
    );
    let got = diagnostics(&text);
    assert_eq!(got.len(), 2, "{got:#?}");
    for wanted in [
        "bad.toml:10:56: details.closingDateTime: date format \"%Q\" can never give a date",
        "bad.toml:11:76: customerProfile.address.city: date format \"\" can never give a date",
    ] {
        assert!(
            got.iter().any(|g| g.starts_with(wanted)),
            "{wanted} in {got:#?}"
        );
    }
}

#[test]
fn an_unknown_directive_is_named_and_each_format_of_a_list_is_judged() {
    let text = format!(
        "{BASE}details.closingDateTime = {{ column = \"Close\", format = [\"%m/%d/%Y\", \"%d.%K.%Y\", \"%H:%M\"] }}\n"
    );
    let got = diagnostics(&text);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(
        got[0].starts_with(
            "bad.toml:10:69: details.closingDateTime: date format \"%d.%K.%Y\" is not valid"
        ),
        "{got:#?}"
    );
    assert!(got[0].contains("%K"), "{got:#?}");
    assert!(
        got[1].starts_with(
            "bad.toml:10:81: details.closingDateTime: date format \"%H:%M\" can never"
        ),
        "{got:#?}"
    );
}

#[test]
fn usable_formats_still_load() {
    let formats = [
        "%m/%d/%Y",
        "%d.%m.%Y %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%b %e, %Y",
        "%Y%m%d",
        "%s",
    ];
    for f in formats {
        compile(&format!(
            "{BASE}details.closingDateTime = {{ column = \"Close\", format = \"{f}\" }}\n"
        ));
    }
}

#[test]
fn a_byte_that_is_not_utf8_is_reported_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    let text = b"external_id = \"Id\"\n[fields]\nname = \"Na\xefve caf\xe9\"\n";
    std::fs::write(&path, text).unwrap();
    let err = Mapping::load(&path).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    let d = &err.0[0];
    assert_eq!((d.line, d.col), (3, 11), "{err}");
    assert!(d.message.contains("0xEF is not UTF-8"), "{err}");
    assert_eq!(d.file, Path::new(&path));
    let rendered = d.render(false);
    assert!(
        rendered.contains("3 | name = \"Na\u{fffd}ve caf\u{fffd}\""),
        "{rendered}"
    );
}
