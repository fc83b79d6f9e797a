//! Mapping errors shown with their line: `file:line:col: message` first, then the source line
//! with a caret under the span (tabs and wide characters accounted for), JSON lines under
//! `--log-format json`, and the hint that a bare string naming an enum value is a column.

use std::path::Path;

use referral_sync::mapping::{Diagnostics, Mapping};
use referral_sync::source::Headers;

use super::cli::{run, text};
use super::compile;

fn load_err(text: &str) -> Diagnostics {
    match Mapping::from_str(Path::new("bad.toml"), text, &[]) {
        Ok(_) => panic!("mapping loaded but should not have"),
        Err(d) => d,
    }
}

/// The index of the first `^` on the caret line under `N | …`, and how many there are.
fn caret(rendered: &str) -> (usize, usize) {
    let lines: Vec<&str> = rendered.lines().collect();
    let source = lines
        .iter()
        .position(|l| l.trim_start().starts_with(char::is_numeric) && l.contains(" | "))
        .unwrap_or_else(|| panic!("no source line in\n{rendered}"));
    let under = lines[source + 1];
    let start = under
        .find('^')
        .unwrap_or_else(|| panic!("no caret in\n{rendered}"));
    let count = under[start..].chars().take_while(|&c| c == '^').count();
    (start, count)
}

#[test]
fn the_frame_shows_the_line_with_a_caret_under_the_span_past_a_tab_and_wide_characters() {
    let text = "external_id = \"Id\"\n[fields]\nname = \"Name\"\n\tdetails.notes = { column = \"Ünïcødé 名前\", typ = \"x\" }\n";
    let d = load_err(text);
    assert_eq!(d.len(), 1, "{d}");
    let rendered = d.0[0].render(false);
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(
        lines[0],
        "bad.toml:4:43: details.notes: unknown key `typ`; did you mean `type`?"
    );
    let source = lines
        .iter()
        .find(|l| l.starts_with("4 | "))
        .expect("line 4");
    assert!(source.ends_with("details.notes = { column = \"Ünïcødé 名前\", typ = \"x\" }"));
    // The gutter "4 | " is four columns; before `typ` the tab shows as four spaces, the
    // 名前 take two columns each: 4 + 28 + 8 + 4 + 3 = 47.
    assert_eq!(caret(&rendered), (4 + 47, 3), "{rendered}");
    assert!(!rendered.contains('\u{1b}'), "{rendered}");
}

#[test]
fn every_problem_is_rendered_and_toml_syntax_errors_get_a_frame_too() {
    let d = load_err("external_id = \"Id\"\ncolour = 1\n[fields]\nnme = \"Name\"\n");
    let all = d.render(false);
    for first in [
        "bad.toml:2:1: mapping: unknown key `colour`",
        "bad.toml:4:1: unknown target `nme`; did you mean `name`?",
    ] {
        assert!(all.lines().any(|l| l == first), "{first} in\n{all}");
    }
    assert!(all.contains("2 | colour = 1"), "{all}");
    assert!(all.contains("4 | nme = \"Name\""), "{all}");
    assert!(
        all.ends_with("error: 2 problems in the mapping bad.toml"),
        "{all}"
    );

    let syntax = load_err("external_id = \"Id\"\n[fields\n").render(false);
    assert!(syntax.starts_with("bad.toml:2:8: invalid TOML"), "{syntax}");
    assert_eq!(caret(&syntax), (4 + 7, 1), "{syntax}");
}

#[test]
fn a_bare_string_that_is_an_enum_value_hints_at_the_literal() {
    let mapping = compile(
        "external_id = \"Id\"\n[fields]\nname = \"Name\"\ntype = \"independent\"\n\
         customerProfile.name = \"Name\"\ncustomerProfile.address.country = { value = \"US\" }\n\
         consent.consentToContact = true\ndetails.currency = { value = \"USD\" }\n",
    );
    let headers = Headers::new(vec!["Id".into(), "Name".into()]);
    let got = mapping.check_columns(&headers, Path::new("in.csv"));
    assert_eq!(got.len(), 1, "{got}");
    assert_eq!(
        got.0[0].to_string(),
        "test.toml:4:8: column \"independent\" is not in in.csv; to set type to the value \
         \"Independent\", write { value = \"Independent\" } (a bare string names a column)"
    );
    assert_eq!(caret(&got.0[0].render(false)), (4 + 7, 13));
}

/// A mapping with two typos (three problems), written to a temporary folder.
fn typos(dir: &Path) -> String {
    let path = dir.join("typos.toml");
    std::fs::write(
        &path,
        "external_id = \"Id\"\n[fields]\nnme = \"Name\"\ndetails.dealValue = { colum = \"X\" }\n",
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn the_binary_shows_frames_without_colour_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = typos(dir.path());
    let out = run(&["check", "-m", &mapping]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{mapping}:3:1: unknown target `nme`")),
        "{err}"
    );
    assert!(err.contains("3 | nme = \"Name\""), "{err}");
    assert!(
        err.contains("4 | details.dealValue = { colum = \"X\" }"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err}");
}

#[test]
fn json_log_format_gives_one_object_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = typos(dir.path());
    let out = run(&["--log-format", "json", "check", "-m", &mapping]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(!err.contains('\u{1b}'), "{err}");
    let objects: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(objects.len(), 3, "{err}");
    assert_eq!(objects[0]["file"], mapping.as_str());
    assert_eq!(
        (&objects[0]["line"], &objects[0]["col"]),
        (&3.into(), &1.into())
    );
    assert_eq!(objects[1]["line"], 4);
    assert_eq!(objects[1]["col"], 23);
    assert_eq!(
        objects[1]["message"],
        "details.dealValue: unknown key `colum`; did you mean `column`?"
    );
    assert_eq!(objects[1]["level"], "ERROR");
}
