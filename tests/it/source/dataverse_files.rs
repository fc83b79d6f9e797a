//! Dataverse Web API JSON: collections, single entities, bare arrays, directories of pages in
//! natural order, annotations, expanded navigation properties, exact decimals, bad pages.

use referral_sync::source::{self, Cell, SourceError, SourceOptions};

use super::{fixture, open_err, read_all, read_ok, text};

#[test]
fn collection_fields_annotations_and_expanded_properties() {
    let rows = read_ok(
        &fixture("dataverse-collection.json"),
        &SourceOptions::default(),
    );
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first.row, 1);
    assert_eq!(
        text(first, "name"),
        "10 Airpot XL Coffee Makers for Alpine Ski House"
    );
    assert_eq!(first.get("statecode"), Some(&Cell::Int(0)));
    assert_eq!(text(first, "statecode@label"), "Open");
    assert_eq!(
        text(first, "statecode@OData.Community.Display.V1.FormattedValue"),
        "Open"
    );
    assert_eq!(
        text(first, "estimatedvalue"),
        "4990.0000000000",
        "exact decimal text"
    );
    assert_eq!(
        text(first, "estimatedclosedate"),
        "2023-06-25",
        "dates stay text"
    );
    assert_eq!(first.get("closeprobability"), Some(&Cell::Int(65)));
    assert_eq!(first.get("budgetamount"), Some(&Cell::Empty));
    assert_eq!(
        first.get("isrevenuesystemcalculated"),
        Some(&Cell::Bool(false))
    );
    assert_eq!(
        text(first, "customerid_account.address1_country"),
        "United States"
    );
    assert_eq!(
        text(first, "customerid_account.industrycode@label"),
        "Consulting"
    );
    assert_eq!(
        text(
            first,
            "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"
        ),
        "account"
    );
    assert_eq!(
        text(first, "opportunity_products"),
        r#"[{"name": "Airpot XL"}]"#
    );
    assert!(first.get("@odata.nextLink").is_none());

    let second = &rows[1];
    assert_eq!(second.row, 2);
    assert_eq!(text(second, "estimatedvalue"), "123456789012.1234567891");
    assert_eq!(second.get("customerid_account"), Some(&Cell::Empty));
    assert_eq!(second.get("description"), Some(&Cell::Empty));
    assert!(second.get("customerid_account.name").is_none());
}

#[test]
fn rows_with_the_same_fields_share_headers() {
    let rows = read_ok(
        &fixture("dataverse-pages/page1.json"),
        &SourceOptions::default(),
    );
    assert!(std::sync::Arc::ptr_eq(&rows[0].headers, &rows[1].headers));
}

#[test]
fn single_entity_response_is_one_record() {
    let rows = read_ok(&fixture("dataverse-entity.json"), &SourceOptions::default());
    assert_eq!(rows.len(), 1);
    assert_eq!(text(&rows[0], "createdon"), "2023-05-21T14:11:31Z");
    assert_eq!(
        rows[0].get("value"),
        Some(&Cell::Int(12)),
        "a field named value"
    );
    assert!(rows[0].get("@odata.context").is_none());
}

#[test]
fn bare_array_of_records() {
    let rows = read_ok(
        &fixture("dataverse-bare-array.json"),
        &SourceOptions::default(),
    );
    let names: Vec<String> = rows.iter().map(|r| text(r, "name")).collect();
    assert_eq!(names, ["bare-1", "bare-2"]);
}

#[test]
fn directory_of_pages_in_natural_order() {
    let source = source::open(&fixture("dataverse-pages"), &SourceOptions::default());
    let source = source.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        source
            .headers()
            .is_some_and(|h| h.index_of("NAME").is_some())
    );
    let rows: Vec<_> = source.filter_map(Result::ok).collect();
    let names: Vec<String> = rows.iter().map(|r| text(r, "name")).collect();
    assert_eq!(names, ["p1-a", "p1-b", "p2-a", "p2-b", "p10-a", "p10-b"]);
    let where_from: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.file
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                r.row,
            )
        })
        .collect();
    assert_eq!(where_from[2], ("page2.json".to_owned(), 1));
    assert_eq!(where_from[5], ("page10.json".to_owned(), 2));
}

#[test]
fn several_page_files_in_the_given_order() {
    let paths = [
        fixture("dataverse-pages/page10.json"),
        fixture("dataverse-pages/page2.json"),
    ];
    let rows = source::open_all(&paths, &SourceOptions::default())
        .map(|s| s.filter_map(Result::ok).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = rows.iter().map(|r| text(r, "name")).collect();
    assert_eq!(names, ["p10-a", "p10-b", "p2-a", "p2-b"]);
}

#[test]
fn a_file_that_is_not_a_response_fails_with_line_and_column() {
    let err = open_err(&fixture("not-json.json"), &SourceOptions::default());
    assert!(matches!(err, SourceError::Json { line: 1, .. }), "{err:?}");
    assert!(err.to_string().contains("not-json.json:1:"), "{err}");
    let err = open_err(&fixture("not-a-response.json"), &SourceOptions::default());
    assert!(
        err.to_string()
            .contains("expected a Dataverse Web API response"),
        "{err}"
    );
    let err = open_err(
        &fixture("no-such-dir/page1.json"),
        &SourceOptions::default(),
    );
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
}

#[test]
fn truncated_page_keeps_the_rows_before_the_break() {
    let full = std::fs::read(fixture("dataverse-collection.json")).unwrap_or_default();
    let cut = full.len() * 3 / 4;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("cut.json");
    std::fs::write(&path, full.get(..cut).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let results = read_all(&path, &SourceOptions::default());
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    let err = results[1]
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        err.starts_with(&format!("{}:row 2: line ", path.display())),
        "{err}"
    );
    assert!(err.contains("EOF"), "{err}");

    std::fs::write(&path, full.get(..40).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let err = open_err(&path, &SourceOptions::default());
    assert!(
        matches!(err, SourceError::Truncated { line: Some(2), .. }),
        "{err:?}"
    );
}

#[test]
fn empty_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let err = open_err(dir.path(), &SourceOptions::default());
    assert!(matches!(err, SourceError::EmptyDirectory { .. }), "{err:?}");
}
