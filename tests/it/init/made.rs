//! `init` on exports made here in shapes and languages no shipped sample has: a German
//! Dynamics CSV, a French Salesforce report, a Spanish CRM export with tabs, and a Dataverse
//! page without formatted labels; and the file rules (stdout, no silent overwrite).

use std::path::PathBuf;

use super::{init, run, text};

/// Write `content` to `name` in a new folder; the folder lives as long as the path is used.
fn export(name: &str, content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write the export");
    (dir, path)
}

#[test]
fn german_dynamics_csv_with_display_names_in_german() {
    let csv = "\u{feff}Erstellt am;Thema;Potenzieller Kunde;Status;Statusgrund;Geschätzter Umsatz;Geschätztes Abschlussdatum;Währung;Land/Region;Beschreibung\n\
        02.11.2026 09:15;Kaffeevollautomaten Zentrale;Contoso AG;Offen;In Bearbeitung;12.500,00;31.03.2027;Euro;Deutschland;Zwei Geräte\n\
        28.10.2026 14:02;Büro-Abo;Fabrikam GmbH;Gewonnen;Gewonnen;7.200,50;20.12.2026;Euro;Österreich;\n\
        15.09.2026 08:00;Espresso Filialen;Litware SA;Verloren;Abgebrochen;48.000,00;15.01.2027;CHF;Schweiz;Filialen\n\
        01.08.2026 10:30;Wartungsvertrag;Contoso AG;Offen;In Bearbeitung;3.000,00;01.06.2027;Euro;Deutschland;\n";
    let (_dir, input) = export("Verkaufschancen.csv", csv);
    let d = init(&[&input], None);
    d.checks();
    let json = d.previews();
    assert_eq!(json.len(), 4);
    assert_eq!(
        d.option("external_id", "template")
            .and_then(|v| v.as_str().map(str::to_owned))
            .as_deref(),
        Some("{Thema} | {Erstellt am}")
    );
    d.reads(&[
        ("fields.name", "Thema"),
        ("fields.customerProfile.name", "Potenzieller Kunde"),
    ]);
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("Land/Region")
    );
    assert_eq!(
        d.column("fields.details.dealValue").as_deref(),
        Some("Geschätzter Umsatz")
    );
    assert_eq!(json[0]["details"]["dealValue"], 12500);
    assert_eq!(json[1]["customerProfile"]["address"]["country"], "AT");
    assert_eq!(json[2]["details"]["currency"], "CHF");
    assert_eq!(
        json[0]["details"]["closingDateTime"],
        "2027-03-31T00:00:00Z"
    );
    let pairs: Vec<(&str, &str)> = json
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["substatus"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("New", "Pending"),
            ("Closed", "Won"),
            ("Closed", "Lost"),
            ("New", "Pending")
        ]
    );
}

#[test]
fn french_salesforce_report_with_labels_in_french() {
    let csv = "ID de l'opportunité,Nom de l'opportunité,Nom du compte,Étape,Montant,Devise de l'opportunité,Date de clôture,Pays de facturation,Ville de facturation\n\
        0065g00000AbCdEAAV,Migration Azure,Société Générale Test,Prospection,\"125 000,00\",EUR,31/03/2027,France,Paris\n\
        0065g00000AbCdFAAV,Licences Teams,Brasserie du Nord,Fermée gagnée,\"8 400,50\",EUR,15/12/2026,Belgique,Lille\n\
        0065g00000AbCdGAAV,Sécurité,Chocolats Suisses SA,Fermée perdue,\"42 000,00\",CHF,28/02/2027,Suisse,Genève\n\
        0065g00000AbCdHAAV,Données,Banque Exemple,Négociation,\"99 000,00\",EUR,30/06/2027,France,Lyon\n";
    let (_dir, input) = export("rapport-opportunites.csv", csv);
    let d = init(&[&input], None);
    d.checks();
    let json = d.previews();
    assert_eq!(json.len(), 4);
    d.reads(&[
        ("external_id", "ID de l'opportunité"),
        ("fields.name", "Nom de l'opportunité"),
        ("fields.customerProfile.name", "Nom du compte"),
    ]);
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("Pays de facturation")
    );
    assert_eq!(
        d.column("fields.details.dealValue").as_deref(),
        Some("Montant")
    );
    assert_eq!(json[0]["details"]["dealValue"], 125000);
    assert_eq!(json[1]["substatus"], "Won");
    assert_eq!(json[2]["substatus"], "Lost");
    assert_eq!(json[1]["customerProfile"]["address"]["country"], "BE");
    assert_eq!(
        json[1]["details"]["closingDateTime"],
        "2026-12-15T00:00:00Z"
    );
}

#[test]
fn spanish_tab_separated_export() {
    let tsv = "Id. de oportunidad\tNombre de la oportunidad\tCliente potencial\tEstado\tIngresos estimados\tDivisa\tFecha de cierre estimada\tPaís/Región\n\
        OP-0001\tRenovación de licencias\tContoso Ibérica\tAbierta\t25.000,00\tEuro\t15/04/2027\tEspaña\n\
        OP-0002\tMigración a la nube\tFabrikam México\tGanada\t310.500,75\tPeso mexicano\t30/11/2026\tMéxico\n\
        OP-0003\tSeguridad\tLitware Chile\tPerdida\t12.000,00\tDólar estadounidense\t20/01/2027\tChile\n";
    let (_dir, input) = export("oportunidades.tsv", tsv);
    let d = init(&[&input], None);
    d.checks();
    let json = d.previews();
    assert!(json.len() >= 3, "{}", d.text);
    d.reads(&[
        ("external_id", "Id. de oportunidad"),
        ("fields.customerProfile.name", "Cliente potencial"),
    ]);
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("País/Región")
    );
    assert_eq!(
        d.column("fields.details.dealValue").as_deref(),
        Some("Ingresos estimados")
    );
    assert_eq!(json[1]["details"]["dealValue"], 310500.75);
    assert_eq!(json[1]["customerProfile"]["address"]["country"], "MX");
    assert_eq!(json[1]["substatus"], "Won");
}

#[test]
fn dataverse_page_without_formatted_labels_reads_the_state_by_number() {
    let page = r#"{"value": [
        {"opportunityid": "6a1c0c3e-0001-ee11-8179-000d3a8f0001", "name": "Cold brew rollout",
         "estimatedvalue": "12000.0000000000", "estimatedclosedate": "2027-02-01", "statecode": 0,
         "customerid_account": {"name": "Tailspin Toys", "address1_country": "Canada", "address1_city": "Toronto"}},
        {"opportunityid": "6a1c0c3e-0002-ee11-8179-000d3a8f0001", "name": "Office espresso",
         "estimatedvalue": "4500.5000000000", "estimatedclosedate": "2026-12-20", "statecode": 1,
         "customerid_account": {"name": "Wingtip Toys", "address1_country": "United Kingdom", "address1_city": "Leeds"}},
        {"opportunityid": "6a1c0c3e-0003-ee11-8179-000d3a8f0001", "name": "Vending",
         "estimatedvalue": "900.0000000000", "estimatedclosedate": "2027-05-31", "statecode": 2,
         "customerid_account": {"name": "Proseware", "address1_country": "Australia", "address1_city": "Perth"}}
    ]}"#;
    let (_dir, input) = export("opportunities.json", page);
    let d = init(&[&input], None);
    d.checks();
    let json = d.previews();
    assert_eq!(json.len(), 3);
    d.reads(&[
        ("external_id", "opportunityid"),
        ("fields.name", "name"),
        ("fields.customerProfile.name", "customerid_account.name"),
    ]);
    assert_eq!(
        d.column("fields.customerProfile.address.country")
            .as_deref(),
        Some("customerid_account.address1_country")
    );
    assert_eq!(
        d.column("fields.details.dealValue").as_deref(),
        Some("estimatedvalue")
    );
    let substatus: Vec<&str> = json
        .iter()
        .map(|r| r["substatus"].as_str().unwrap())
        .collect();
    assert_eq!(substatus, ["Pending", "Won", "Lost"]);
}

#[test]
fn without_output_the_draft_goes_to_stdout_and_an_existing_file_is_kept() {
    let csv = "Id,Name,Account Name,Amount,Billing Country\n1,A deal,Contoso,100,Germany\n2,B deal,Fabrikam,200,France\n";
    let (dir, input) = export("deals.csv", csv);
    let out = run(&["init", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("external_id = \"Id\""));
    let existing = dir.path().join("mine.toml");
    std::fs::write(&existing, "# my own mapping\n").unwrap();
    let out = run(&[
        "init",
        "-o",
        existing.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "# my own mapping\n"
    );
    let out = run(&[
        "init",
        "--force",
        "-o",
        existing.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::read_to_string(&existing)
            .unwrap()
            .contains("Billing Country")
    );
}

#[test]
fn an_export_with_no_known_column_gets_a_draft_that_loads_and_says_what_is_missing() {
    let (dir, input) = export("odd.csv", "a,b,c\n1,2,3\n4,5,6\n");
    let draft = dir.path().join("odd.toml");
    let out = run(&[
        "init",
        "-o",
        draft.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("no column found for a record id"), "{err}");
    assert!(
        err.contains("no column found for the customer's name"),
        "{err}"
    );
    let mapping = std::fs::read_to_string(&draft).unwrap();
    assert!(
        mapping.contains("# CHANGE: no column was recognised as the customer's name"),
        "{mapping}"
    );
    let check = run(&[
        "check",
        "-m",
        draft.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}
