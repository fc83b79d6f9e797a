//! The name recognition `init` stands on: headers reduced to a base name and a context, and
//! status values read in several languages.

use referral_sync::init::{Outcome, analyse, fold, outcome_of};

#[test]
fn folding_ignores_case_accents_and_punctuation() {
    assert_eq!(fold("Geschätzter Umsatz"), fold("geschatzter-umsatz"));
    assert_eq!(fold("Est. Revenue"), "estrevenue");
    assert_eq!(fold("Straße"), "strasse");
}

#[test]
fn related_entity_columns_and_paths_keep_their_base_name() {
    let h = analyse(
        "Address 1: Country/Region (Potential Customer) (Account)",
        referral_sync::init::Context::Own,
    );
    assert_eq!(h.base, "address1countryregion");
    assert_eq!(h.context, referral_sync::init::Context::Account);
    let h = analyse(
        "customerid_account.address1_country",
        referral_sync::init::Context::Own,
    );
    assert_eq!(h.base, "address1country");
    assert_eq!(h.context, referral_sync::init::Context::Account);
    let h = analyse(
        "_transactioncurrencyid_value@label",
        referral_sync::init::Context::Own,
    );
    assert_eq!(h.base, "transactioncurrencyid");
    assert!(h.labelled);
    let h = analyse(
        "parentcontactid.firstname",
        referral_sync::init::Context::Own,
    );
    assert_eq!(h.context, referral_sync::init::Context::Other);
    assert_eq!(
        analyse("Product__c", referral_sync::init::Context::Own).base,
        "product"
    );
}

#[test]
fn status_values_read_in_four_languages() {
    for won in [
        "Won",
        "Closed Won",
        "Gewonnen",
        "Fermée gagnée",
        "Ganada",
        "closedwon",
    ] {
        assert_eq!(outcome_of(won), Outcome::Won, "{won}");
    }
    for lost in [
        "Lost",
        "Closed Lost",
        "Verloren",
        "Perdue",
        "Perdida",
        "Canceled",
        "closedlost",
    ] {
        assert_eq!(outcome_of(lost), Outcome::Lost, "{lost}");
    }
    for open in [
        "appointmentscheduled",
        "Open",
        "Offen",
        "Prospection",
        "Abierta",
        "Negotiation",
        "Proposal/Quote",
    ] {
        assert_eq!(outcome_of(open), Outcome::Open, "{open}");
    }
}
