//! `check --mapping FILE` with no input validates the file alone and reads no data file;
//! a lookup's file is read when an input is given or when `--lookup` names it.

use std::path::Path;
use std::process::Output;

use super::cli::{run, text};

fn check(args: &[&str]) -> Output {
    let mut all = vec!["check"];
    all.extend(args);
    run(&all)
}

/// A mapping whose lookup file `absent.csv` is not next to it, and an input for it.
fn mapping_with_absent_lookup(dir: &Path) -> (String, String) {
    let mapping = dir.join("m.toml");
    std::fs::write(
        &mapping,
        r#"external_id = "Id"
[lookups.account]
file = "absent.csv"
key = "Id"
on = "AccountId"
[fields]
name = "Name"
type = { value = "Independent" }
customerProfile.name = { lookup = "account", column = "Name" }
customerProfile.address.country = { value = "US" }
consent.consentToContact = true
details.currency = { value = "USD" }
"#,
    )
    .unwrap();
    let input = dir.join("in.csv");
    std::fs::write(&input, "Id,Name,AccountId\n1,Deal,A1\n").unwrap();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    (path(&mapping), path(&input))
}

#[test]
fn a_mapping_alone_is_valid_without_its_lookup_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mapping, _) = mapping_with_absent_lookup(dir.path());
    let out = check(&["-m", &mapping]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.starts_with(&format!("ok: {mapping} is valid")),
        "{said}"
    );
    assert!(said.contains("lookup files not read: account"), "{said}");
}

#[test]
fn the_lookup_file_is_read_when_an_input_or_lookup_option_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let (mapping, input) = mapping_with_absent_lookup(dir.path());
    let with_input = check(&["-m", &mapping, &input]);
    let missing = dir.path().join("missing.csv");
    let missing = format!("account={}", missing.display());
    let with_option = check(&["-m", &mapping, "--lookup", &missing]);
    for out in [with_input, with_option] {
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("{mapping}:3:8: lookup `account`:")),
            "{err}"
        );
    }

    let accounts = dir.path().join("accounts.csv");
    std::fs::write(&accounts, "Id,Nmae\nA1,Contoso\n").unwrap();
    let given = format!("account={}", accounts.display());
    let out = check(&["-m", &mapping, "--lookup", &given]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("column \"Name\" is not in lookup file"),
        "{err}"
    );
}

#[test]
fn shipped_mappings_with_lookups_check_alone() {
    for mapping in [
        "mappings/salesforce-opportunity.toml",
        "mappings/dynamics365-csv.toml",
    ] {
        let out = check(&["--mapping", mapping]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mapping}: {}",
            text(&out.stderr)
        );
    }
}
