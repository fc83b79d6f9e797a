//! `init` on every shipped sample and on the real exports: the drafts check, preview at
//! least 90 % of the rows, and read the id, customer, country and deal value from the columns
//! a person would choose.

use super::{init, real_export, root};

#[test]
fn dynamics_workbook_draft_uses_the_hidden_record_id_and_the_related_account_columns() {
    let input = root().join("samples/dynamics365-export.xlsx");
    let d = init(&[&input], None);
    d.checks();
    let json = d.previews();
    d.reads(&[
        ("external_id", "Dynamics Record Id"),
        ("fields.customerProfile.name", "Potential Customer"),
    ]);
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("Address 1: Country/Region (Potential Customer) (Account)")
    );
    d.reads(&[
        ("fields.details.dealValue", "Est. revenue"),
        ("fields.details.currency", "Currency"),
    ]);
    assert_eq!(
        json[0]["externalReferenceId"],
        "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b01"
    );
    // The flag column is offered as a filter, not applied behind the user's back.
    assert!(
        d.text.contains("# column = \"Sync with Partner Center\""),
        "{}",
        d.text
    );
}

#[test]
fn dynamics_csv_draft_builds_a_stable_id_and_says_why() {
    let input = root().join("samples/dynamics365/Opportunity.csv");
    let account = root().join("samples/dynamics365/Account.csv");
    let d = init(&[&input], Some(("account", &account)));
    d.checks();
    d.previews();
    let id = d.option("external_id", "template").expect("a template id");
    assert_eq!(id.as_str(), Some("{Topic} | {Created On}"));
    assert!(
        d.text.contains("No column holds a unique record id"),
        "{}",
        d.text
    );
    d.reads(&[
        ("fields.customerProfile.name", "Potential Customer"),
        ("fields.details.dealValue", "Est. revenue"),
    ]);
    assert!(d.through_lookup("fields.customerProfile.address.city"));
    // No column names the country: a literal with a comment that says to set it.
    assert!(
        d.option("fields.customerProfile.address.country", "value")
            .is_some()
    );
    assert!(
        d.text.contains("no column holds the customer's country"),
        "{}",
        d.text
    );
}

#[test]
fn dataverse_draft_reads_logical_names_and_expanded_paths() {
    let input = root().join("samples/dataverse");
    let d = init(&[&input], None);
    d.checks();
    let json = d.previews();
    assert_eq!(d.column("external_id").as_deref(), Some("opportunityid"));
    let customer = d.column("fields.customerProfile.name").unwrap_or_default();
    assert!(
        customer == "customerid_account.name" || customer == "_customerid_value@label",
        "{customer}"
    );
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("customerid_account.address1_country")
    );
    d.reads(&[
        ("fields.details.dealValue", "estimatedvalue"),
        (
            "fields.details.currency",
            "_transactioncurrencyid_value@label",
        ),
    ]);
    assert_eq!(json[0]["details"]["currency"], "USD");
    assert_eq!(json[0]["status"], "New");
}

#[test]
fn salesforce_draft_joins_the_account_export_for_the_customer() {
    let input = root().join("samples/salesforce/Opportunity.csv");
    let account = root().join("samples/salesforce/Account.csv");
    let d = init(&[&input], Some(("account", &account)));
    d.checks();
    d.previews();
    assert_eq!(d.column("external_id").as_deref(), Some("Id"));
    assert_eq!(
        d.get("lookups.account.on").and_then(|v| v.as_str()),
        Some("AccountId")
    );
    assert_eq!(
        d.get("lookups.account.key").and_then(|v| v.as_str()),
        Some("Id")
    );
    assert!(d.through_lookup("fields.customerProfile.name"));
    assert_eq!(
        d.column("fields.customerProfile.name").as_deref(),
        Some("Name")
    );
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("BillingCountry")
    );
    d.reads(&[
        ("fields.name", "Name"),
        ("fields.details.dealValue", "Amount"),
    ]);
}

#[test]
fn german_template_sample_draft_reads_decimal_commas_and_day_first_dates() {
    let input = root().join("samples/template/opportunities.csv");
    let accounts = root().join("samples/template/accounts.csv");
    let d = init(&[&input], Some(("accounts", &accounts)));
    d.checks();
    let json = d.previews();
    d.reads(&[
        ("external_id", "Opportunity ID"),
        ("fields.customerProfile.name", "Account"),
    ]);
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("Country")
    );
    assert!(d.through_lookup("fields.customerProfile.address.country"));
    assert_eq!(
        d.column("fields.details.dealValue").as_deref(),
        Some("Amount")
    );
    assert_eq!(
        d.option("fields.details.dealValue", "decimal_comma"),
        Some(toml::Value::Boolean(true))
    );
    assert_eq!(json[0]["details"]["dealValue"], 125000);
    assert_eq!(
        json[0]["details"]["closingDateTime"],
        "2027-03-31T00:00:00Z"
    );
    // "Gewonnen" is won, "Angebot" open.
    let won = json.iter().find(|r| r["substatus"] == "Won");
    assert!(won.is_some(), "{json:?}");
}

#[test]
fn real_dynamics_export_draft_maps_nearly_every_row() {
    let (Some(input), Some(account)) = (
        real_export("d365-demo-generator_Opportunity.csv"),
        real_export("d365-demo-generator_Account.csv"),
    ) else {
        return;
    };
    let d = init(&[&input], Some(("account", &account)));
    d.checks();
    let json = d.previews();
    assert!(json.len() >= 5200, "{}", json.len());
    let id = d.option("external_id", "template").expect("a template id");
    assert_eq!(id.as_str(), Some("{Topic} | {Created On}"));
    d.reads(&[
        ("fields.customerProfile.name", "Potential Customer"),
        ("fields.details.dealValue", "Est. revenue"),
    ]);
    // Every sampled deal is in US Dollar and no column holds the country: US, said so.
    assert_eq!(
        d.option("fields.customerProfile.address.country", "value")
            .and_then(|v| v.as_str().map(str::to_owned)),
        Some("US".to_owned())
    );
    assert_eq!(
        d.column("fields.customerProfile.address.city").as_deref(),
        Some("Address 1: City")
    );
}

#[test]
fn real_salesforce_export_draft_maps_every_row() {
    let (Some(input), Some(account)) = (
        real_export("sfdc-data-cloud-workshop_Opportunity.csv"),
        real_export("sfdc-data-cloud-workshop_Account.csv"),
    ) else {
        return;
    };
    let d = init(&[&input], Some(("account", &account)));
    d.checks();
    let json = d.previews();
    assert_eq!(json.len(), 50);
    assert_eq!(d.column("external_id").as_deref(), Some("Id"));
    assert!(d.through_lookup("fields.customerProfile.name"));
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("BillingCountry")
    );
    assert_eq!(
        d.column("fields.details.dealValue").as_deref(),
        Some("Amount")
    );
    let closed = json.iter().filter(|r| r["status"] == "Closed").count();
    assert!(closed > 0 && closed < 50, "{closed}");
}
