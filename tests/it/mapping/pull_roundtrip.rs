//! The shipped mappings' `[pull]` sections produce files their own CRM columns read back:
//! pull records rendered into a CSV file on disk, read again by the project's own source
//! reader, and the CRM id and the status and deal columns evaluated through the same
//! mapping's `[fields]`, as an export of the updated CRM would be read.

use std::path::{Path, PathBuf};

use referral_sync::mapping::{Mapping, PullColumns};
use referral_sync::source::{SourceOptions, open};
use serde_json::{Value, json};

/// A pull record of one of our referrals, with its CRM record id.
fn ours(record_id: &str, status: &str, substatus: &str, value: Value) -> Value {
    json!({
        "id": format!("ref-{substatus}"),
        "engagementId": "eng-1",
        "externalReferenceId": record_id,
        "name": "Alpine Ski House | Espresso machines for the lodge",
        "direction": "Outgoing",
        "type": "Independent",
        "status": status,
        "substatus": substatus,
        "statusReason": "",
        "updatedDateTime": "2026-11-30T23:30:00Z",
        "customerProfile": { "name": "Alpine Ski House", "address": { "country": "US" } },
        "details": { "dealValue": value, "currency": "USD", "closingDateTime": "2027-01-15T00:00:00Z" },
        "sync": { "changed": "status;substatus", "recordId": record_id }
    })
}

/// An inbound referral Microsoft shared with us.
fn inbound() -> Value {
    json!({
        "id": "ref-in",
        "engagementId": "eng-in",
        "name": "Fabrikam | Data platform",
        "direction": "Incoming",
        "status": "New",
        "substatus": "Pending",
        "expirationDateTime": "2026-12-14T10:00:00Z",
        "customerProfile": {
            "name": "Fabrikam",
            "address": { "city": "Redmond", "country": "US" },
            "team": [{ "firstName": "Jonas", "lastName": "Weber", "email": "jw@example.com", "phoneNumber": "+1 425 555 0100" }]
        },
        "details": { "dealValue": 7200.5, "currency": "USD", "closingDateTime": "2027-02-01T00:00:00Z", "notes": "Needs a partner" },
        "inviteContext": { "invitedBy": { "organizationId": "msft" } },
        "sync": { "changed": "new", "daysLeft": 12 }
    })
}

/// Load a shipped mapping with its lookup pointed at the matching sample.
fn shipped(name: &str, lookup: &str) -> Mapping {
    let root = super::root();
    let overrides = [("account".to_string(), root.join(lookup))];
    let path = root.join("mappings").join(format!("{name}.toml"));
    Mapping::load_with_lookups(&path, &overrides).unwrap_or_else(|d| panic!("{name}: {d}"))
}

/// Render records through columns into a CSV file, as a pull file is written.
fn write_csv(path: &Path, columns: &PullColumns, records: &[Value]) {
    let mut out = csv::Writer::from_path(path).unwrap();
    out.write_record(columns.headers()).unwrap();
    for record in records {
        out.write_record(columns.row(record).unwrap()).unwrap();
    }
    out.flush().unwrap();
}

/// Read a CSV back with the project's reader and evaluate `paths` of the mapping per row.
fn read_back(mapping: &Mapping, file: &Path, paths: &[&str]) -> Vec<Vec<Option<Value>>> {
    let source = open(file, &SourceOptions::default()).unwrap();
    let mut rows = Vec::new();
    for row in source {
        let row = row.unwrap();
        let cols = mapping.resolve(&row.headers);
        let values = paths
            .iter()
            .map(|p| match mapping.read_target(p, &row, &cols) {
                Some(Ok(value)) => value,
                Some(Err(e)) => panic!("{p}: {e}"),
                None => panic!("the mapping does not set {p}"),
            })
            .collect();
        rows.push(values);
    }
    rows
}

/// The cells of one column of a CSV file, by header.
fn column(file: &Path, header: &str) -> Vec<String> {
    let source = open(file, &SourceOptions::default()).unwrap();
    let mut cells = Vec::new();
    for row in source {
        let row = row.unwrap();
        let cell = row.get(header).expect(header);
        cells.push(row.text_of(cell).map(str::to_string).unwrap_or_default());
    }
    cells
}

fn temp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    (dir, file)
}

/// What a row reads back as: externalReferenceId, status, substatus, details.dealValue.
type Back = (Value, Value, Value, Value);

/// Render our referrals (record id, status, substatus, deal value) through the mapping's
/// `[pull]` columns into `file`, and read each row back through the mapping's `[fields]`.
fn round_trip(mapping: &Mapping, sent: &[(&str, &str, &str, Value)], file: &Path) -> Vec<Back> {
    let columns = mapping.pull_columns().expect("[pull]");
    let records: Vec<Value> = sent
        .iter()
        .map(|(id, status, sub, value)| ours(id, status, sub, value.clone()))
        .collect();
    write_csv(file, columns, &records);
    let paths = [
        "externalReferenceId",
        "status",
        "substatus",
        "details.dealValue",
    ];
    read_back(mapping, file, &paths)
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter().map(Option::unwrap_or_default);
            let mut next = || cells.next().unwrap_or_default();
            (next(), next(), next(), next())
        })
        .collect()
}

/// The read-back of one row, for comparisons.
fn back(id: &str, status: &str, substatus: &str, value: Value) -> Back {
    (json!(id), json!(status), json!(substatus), value)
}

#[test]
fn dynamics_export_pull_file_reads_back_by_record_guid_and_status() {
    let mapping = shipped("dynamics365-export", "samples/dynamics365/Account.csv");
    let (won, lost, open) = (
        "5b1c0c3e-0001-ee11-8179-000d3a8f0001",
        "5b1c0c3e-0002-ee11-8179-000d3a8f0002",
        "5b1c0c3e-0003-ee11-8179-000d3a8f0003",
    );
    let sent = [
        (won, "Closed", "Won", json!(18500)),
        (lost, "Closed", "Lost", json!(7200.5)),
        (open, "Active", "Accepted", json!(100)),
    ];
    let (_dir, file) = temp("pull.csv");
    let rows = round_trip(&mapping, &sent, &file);
    let headers = mapping.pull_columns().expect("[pull]").headers();
    assert_eq!(headers[0], "(Do Not Modify) Opportunity");
    assert_eq!(column(&file, "Status"), ["Won", "Lost", "Open"]);
    assert_eq!(
        column(&file, "Status Reason"),
        ["Won", "Canceled", "In Progress"]
    );
    assert_eq!(
        rows,
        [
            back(won, "Closed", "Won", json!(18500)),
            back(lost, "Closed", "Lost", json!(7200.5)),
            back(open, "New", "Pending", json!(100)),
        ]
    );
    let close = read_back(&mapping, &file, &["details.closingDateTime"]);
    assert_eq!(close[0], [Some(json!("2027-01-15T00:00:00Z"))]);
}

#[test]
fn dynamics_csv_pull_file_reads_back_as_the_same_topic_and_created_on_key() {
    let mapping = shipped("dynamics365-csv", "samples/dynamics365/Account.csv");
    let key = "Alpine Ski House | Espresso machines for the lodge | 11/2/2026 9:15";
    let (_dir, file) = temp("pull.csv");
    let rows = round_trip(&mapping, &[(key, "Closed", "Won", json!(18500))], &file);
    assert_eq!(rows, [back(key, "Closed", "Won", json!(18500))]);
    assert_eq!(column(&file, "Created On"), ["11/2/2026 9:15"]);
    let close = read_back(&mapping, &file, &["details.closingDateTime"]);
    assert_eq!(close[0], [Some(json!("2027-01-15T00:00:00Z"))]);
}

#[test]
fn dataverse_pull_file_reads_back_by_opportunityid_with_statecode() {
    let mapping = shipped("dataverse-json", "samples/dynamics365/Account.csv");
    let id = "5b1c0c3e-0001-ee11-8179-000d3a8f0001";
    let open = "5b1c0c3e-0002-ee11-8179-000d3a8f0002";
    let sent = [
        (id, "Closed", "Won", json!(4990)),
        (open, "New", "Pending", json!(10)),
    ];
    let (_dir, file) = temp("pull.csv");
    let rows = round_trip(&mapping, &sent, &file);
    // The mapping sets status and substatus as literals; the CRM id and the value come back.
    assert_eq!((&rows[0].0, &rows[0].3), (&json!(id), &json!(4990)));
    assert_eq!((&rows[1].0, &rows[1].3), (&json!(open), &json!(10)));
    assert_eq!(column(&file, "statecode"), ["1", "0"]);
    assert_eq!(column(&file, "statuscode"), ["3", "1"]);
}

#[test]
fn salesforce_pull_file_reads_back_by_id_with_is_closed_and_is_won() {
    let mapping = shipped("salesforce-opportunity", "samples/salesforce/Account.csv");
    let (won, declined, open) = (
        "006Dn00000ZqA1aIAF",
        "006Dn00000ZqA1bIAF",
        "006Dn00000ZqA1cIAF",
    );
    let sent = [
        (won, "Closed", "Won", json!(245000)),
        (declined, "Closed", "Declined", json!(12.5)),
        (open, "Active", "Accepted", json!(1)),
    ];
    let (_dir, file) = temp("pull.csv");
    let rows = round_trip(&mapping, &sent, &file);
    assert_eq!(mapping.pull_columns().expect("[pull]").headers()[0], "Id");
    assert_eq!(
        column(&file, "StageName"),
        ["Closed Won", "Closed Lost", ""]
    );
    assert_eq!(column(&file, "Amount"), ["245000.00", "12.50", "1.00"]);
    assert_eq!(
        rows,
        [
            back(won, "Closed", "Won", json!(245000)),
            back(declined, "Closed", "Lost", json!(12.5)),
            back(open, "New", "Pending", json!(1)),
        ]
    );
}

#[test]
fn every_shipped_mapping_writes_inbound_referrals_as_new_records() {
    let cases = [
        (
            "dynamics365-export",
            "samples/dynamics365/Account.csv",
            "Company Name",
        ),
        (
            "dynamics365-csv",
            "samples/dynamics365/Account.csv",
            "Company Name",
        ),
        (
            "dataverse-json",
            "samples/dynamics365/Account.csv",
            "companyname",
        ),
        (
            "salesforce-opportunity",
            "samples/salesforce/Account.csv",
            "Company",
        ),
    ];
    for (name, lookup, company) in cases {
        let mapping = shipped(name, lookup);
        let columns = mapping.pull_columns().expect("[pull]").inbound();
        let (_dir, file) = temp("inbound.csv");
        write_csv(&file, columns, &[inbound()]);
        assert_eq!(column(&file, company), ["Fabrikam"], "{name}");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("jw@example.com"), "{name}: {text}");
        assert!(text.contains("7200.5"), "{name}: the deal value: {text}");
    }
}

#[test]
fn template_pull_file_reads_back_through_its_decimal_comma_and_prefixed_key() {
    let path = super::root().join("mappings/template.toml");
    let mapping = Mapping::load(&path).unwrap_or_else(|d| panic!("{d}"));
    let sent = [
        ("CRM-OPP-7", "Closed", "Won", json!(18500)),
        ("CRM-OPP-8", "Active", "Accepted", json!(99.5)),
    ];
    let (_dir, file) = temp("pull.csv");
    let rows = round_trip(&mapping, &sent, &file);
    assert_eq!(column(&file, "Amount"), ["18500,00", "99,50"]);
    assert_eq!(
        rows,
        [
            back("CRM-OPP-7", "Closed", "Won", json!(18500)),
            back("CRM-OPP-8", "New", "Pending", json!(99.5)),
        ]
    );
}
