//! The known column names of every target `init` fills, in one table: Dynamics 365 display
//! names, Dataverse logical names, Salesforce API names and report labels, and their German,
//! French and Spanish variants. Recognition is this data plus normalised matching (case,
//! accents, punctuation and spacing do not matter); no CRM has a code path of its own.
//!
//! Each entry says in which context the name counts: a column of the opportunity itself
//! (`Own`), of the customer's account (`Account`: a lookup file, a Dataverse
//! `customerid_account.` path, a Dynamics `(… ) (Account)` related column), or either.
//! Earlier names of a list are preferred over later ones.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A value of the Referral `init` can take from a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Id,
    Name,
    Customer,
    Street,
    City,
    State,
    PostalCode,
    Country,
    Status,
    StatusReason,
    DealValue,
    Currency,
    CloseDate,
    Notes,
    Created,
    SyncFlag,
}

/// Where a column's value belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The opportunity's own column.
    Own,
    /// A column of the customer's account (a lookup, or a related-entity column).
    Account,
    /// A column of another related record (a contact, an owner).
    Other,
    /// Either of `Own` and `Account` (table entries only).
    Any,
}

use Context::{Account, Any, Own};
use Target::*;

/// The names of each target, best first.
#[rustfmt::skip]
const NAMES: &[(Target, Context, &[&str])] = &[
    (Id, Own, &[
        "Dynamics Record Id", "opportunityid", "Id", "Opportunity ID", "Opportunity Id",
        "Record Id", "Deal Id", "CRM Id", "Opportunity Number", "Verkaufschancen-ID",
        "Verkaufschance-ID", "Opportunity-ID", "ID der Verkaufschance", "ID de l'opportunité",
        "ID opportunité", "Identifiant de l'opportunité", "Id. de oportunidad", "ID de oportunidad",
        "ID de la oportunidad", "Id oportunidad",
    ]),
    (Name, Own, &[
        "Topic", "Opportunity Name", "name", "Opportunity", "Deal Name", "Subject", "Title",
        "Thema", "Verkaufschance", "Name der Verkaufschance", "Opportunity-Name", "Titel",
        "Betreff", "Sujet", "Rubrique", "Nom de l'opportunité", "Opportunité", "Titre",
        "Objet", "Tema", "Asunto", "Nombre de la oportunidad", "Oportunidad", "Título",
    ]),
    (Customer, Own, &[
        "Potential Customer", "customerid", "Account Name", "Account", "Customer",
        "Customer Name", "Company", "Company Name", "parentaccountid", "accountname",
        "Potenzieller Kunde", "Kunde", "Kundenname", "Firma", "Firmenname", "Accountname",
        "Account-Name", "Konto", "Kontoname", "Unternehmen", "Client potentiel", "Client",
        "Nom du client", "Nom du compte", "Compte", "Société", "Entreprise",
        "Cliente potencial", "Cliente", "Nombre del cliente", "Nombre de la cuenta",
        "Nombre de cuenta", "Cuenta", "Empresa",
    ]),
    (Customer, Account, &[
        "name", "Account Name", "accountname", "Company Name", "Firmenname", "Kontoname",
        "Accountname", "Nom du compte", "Nom de l'entreprise", "Nombre de la cuenta",
        "Nombre de cuenta", "Nombre de la empresa",
    ]),
    (Street, Any, &[
        "Address 1: Street 1", "address1_line1", "BillingStreet", "Billing Street", "Street",
        "Address", "Address Line 1", "Straße", "Strasse", "Adresse 1: Straße 1", "Rechnungsstraße",
        "Rue", "Adresse", "Adresse 1 : Rue 1", "Rue de facturation", "Calle", "Dirección",
        "Dirección 1: Calle 1", "Calle de facturación",
    ]),
    (City, Any, &[
        "Address 1: City", "address1_city", "BillingCity", "Billing City", "City", "Town",
        "Ort", "Stadt", "Adresse 1: Ort", "Rechnungsort", "Rechnungsstadt", "Ville",
        "Adresse 1 : Ville", "Ville de facturation", "Ciudad", "Localidad",
        "Dirección 1: Ciudad", "Ciudad de facturación",
    ]),
    (State, Any, &[
        "Address 1: State/Province", "address1_stateorprovince", "BillingState",
        "Billing State/Province", "Billing State", "State/Province", "State", "Province",
        "Region", "Bundesland", "Adresse 1: Bundesland/Kanton", "Bundesland/Kanton",
        "Rechnungsbundesland", "Kanton", "État/Province", "État", "Province",
        "Adresse 1 : État/Province", "Département", "Estado/Provincia", "Provincia",
        "Dirección 1: Estado o provincia", "Estado o provincia", "Provincia de facturación",
    ]),
    (PostalCode, Any, &[
        "Address 1: ZIP/Postal Code", "address1_postalcode", "BillingPostalCode",
        "Billing Zip/Postal Code", "ZIP/Postal Code", "Postal Code", "ZIP", "ZIP Code",
        "Postcode", "PLZ", "Postleitzahl", "Adresse 1: Postleitzahl", "Rechnungs-PLZ",
        "Code postal", "Adresse 1 : Code postal", "Code postal de facturation",
        "Código postal", "Dirección 1: Código postal", "Código postal de facturación",
    ]),
    (Country, Any, &[
        "Address 1: Country/Region", "address1_country", "BillingCountry", "Billing Country",
        "Country/Region", "Country", "Nation", "Land/Region", "Land", "Adresse 1: Land/Region",
        "Rechnungsland", "Staat", "Pays/Région", "Pays/région", "Pays", "Adresse 1 : Pays/région",
        "Pays de facturation", "País/Región", "País o región", "País",
        "Dirección 1: País o región", "Dirección 1: País/Región", "País de facturación",
        "ShippingCountry", "Shipping Country",
    ]),
    (Status, Own, &[
        "Status", "statecode", "Opportunity Status", "Stage", "StageName",
        "Sales Stage", "salesstage", "Deal Stage", "Phase", "Verkaufsphase", "Vertriebsphase",
        "Statut", "Étape", "Étape de vente", "Phase de vente", "Estado", "Etapa",
        "Etapa de ventas", "Fase",
    ]),
    (StatusReason, Own, &[
        "Status Reason", "statuscode", "Statusgrund", "Raison du statut", "Motif du statut",
        "Razón para el estado", "Razón del estado",
    ]),
    (DealValue, Own, &[
        "Est. revenue", "Estimated Revenue", "estimatedvalue", "Amount", "Expected Revenue",
        "Deal Value", "Value", "Revenue", "Opportunity Amount", "Geschätzter Umsatz",
        "Erwarteter Umsatz", "Umsatz", "Betrag", "Wert", "Summe", "Revenu estimé",
        "Chiffre d'affaires estimé", "Montant estimé", "Montant", "Valeur",
        "Ingresos estimados", "Ingresos est.", "Importe", "Monto", "Valor", "Cantidad",
    ]),
    (Currency, Own, &[
        "Currency", "transactioncurrencyid", "CurrencyIsoCode", "Opportunity Currency",
        "Currency Code", "Währung", "Opportunity-Währung", "Devise", "Devise de l'opportunité",
        "Monnaie", "Divisa", "Moneda", "Divisa de la oportunidad",
    ]),
    (CloseDate, Own, &[
        "Est. close date", "Estimated Close Date", "estimatedclosedate", "CloseDate",
        "Close Date", "Expected Close Date", "Closing Date", "Close",
        "Geschätztes Abschlussdatum", "Voraussichtliches Abschlussdatum", "Abschlussdatum",
        "Schlusstermin", "Abschluss", "Date de clôture estimée", "Date de clôture prévue",
        "Date de clôture", "Clôture", "Fecha de cierre estimada", "Fecha de cierre prevista",
        "Fecha de cierre", "Cierre",
    ]),
    (Notes, Own, &[
        "Description", "Notes", "Note", "Comments", "Beschreibung", "Notizen", "Bemerkungen",
        "Kommentar", "Commentaires", "Remarques", "Descripción", "Notas", "Comentarios",
        "Customer Need", "Kundenbedarf", "Besoin du client", "Necesidad del cliente",
    ]),
    (Created, Own, &[
        "Created On", "createdon", "CreatedDate", "Created Date", "Date Created", "Erstellt am",
        "Erstellungsdatum", "Date de création", "Créé le", "Fecha de creación", "Creado el",
    ]),
    (SyncFlag, Own, &[
        "Sync with Partner Center", "Mit Partner Center synchronisieren",
        "Synchroniser avec l'Espace partenaires", "Sincronizar con el Centro de partners",
    ]),
];

/// How an opportunity status is read: open, won, lost, or closed without saying which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Won,
    Lost,
    Closed,
}

/// Words of status values, checked in this order (won before lost before closed, so
/// `Closed Won` is won); a value with none of them is open.
#[rustfmt::skip]
pub const OUTCOME_WORDS: &[(Outcome, &[&str])] = &[
    (Outcome::Won, &[
        "won", "win", "gewonnen", "gagné", "gagnée", "gagne", "ganado", "ganada", "ganadas",
        "ganados", "vinto", "booked", "closedwon",
    ]),
    (Outcome::Lost, &[
        "lost", "loss", "canceled", "cancelled", "disqualified", "verloren", "abgebrochen",
        "storniert", "disqualifiziert", "perdu", "perdue", "annulé", "annulée", "disqualifié",
        "perdido", "perdida", "cancelado", "cancelada", "descalificado", "perso", "outsold",
        "closedlost",
    ]),
    (Outcome::Closed, &[
        "closed", "geschlossen", "abgeschlossen", "fermé", "fermée", "cerrado", "cerrada",
        "inactive", "inaktiv", "inactif", "inactivo",
    ]),
];

/// The context a qualifier names: `Account`, `customerid_account`, `Firma`… or a contact.
pub const ACCOUNT_WORDS: &[&str] = &[
    "account",
    "customer",
    "firma",
    "konto",
    "kunde",
    "compte",
    "client",
    "cuenta",
    "cliente",
    "company",
    "unternehmen",
    "entreprise",
    "empresa",
];

/// Lower case, accents folded, letters and digits only: `Geschätzter Umsatz` and
/// `geschatzter-umsatz` both become `geschatzterumsatz`.
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'ß' => out.push_str("ss"),
            c if c.is_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// One known name: its target, the context it counts in, and its rank (0 is best).
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub target: Target,
    pub context: Context,
    pub rank: usize,
}

static INDEX: LazyLock<HashMap<String, Vec<Known>>> = LazyLock::new(|| {
    let mut index: HashMap<String, Vec<Known>> = HashMap::new();
    for &(target, context, names) in NAMES {
        for (rank, name) in names.iter().enumerate() {
            let known = Known {
                target,
                context,
                rank,
            };
            index.entry(fold(name)).or_default().push(known);
        }
    }
    index
});

/// The targets a folded column name is known for, in a context.
pub fn known(folded: &str, context: Context) -> impl Iterator<Item = Known> + '_ {
    INDEX
        .get(folded)
        .into_iter()
        .flatten()
        .copied()
        .filter(move |k| match (k.context, context) {
            (Any, Own | Account) => true,
            (a, b) => a == b,
        })
}

/// How a status value reads, by its words.
pub fn outcome_of(value: &str) -> Outcome {
    let words: Vec<String> = value
        .split(|c: char| !c.is_alphanumeric())
        .map(fold)
        .filter(|w| !w.is_empty())
        .collect();
    // Whole words, or a long word inside a value written without spaces (`closedwon`).
    let whole = fold(value);
    for &(outcome, list) in OUTCOME_WORDS {
        let hit = |w: &&str| {
            let w = fold(w);
            words.contains(&w) || (w.len() >= 6 && whole.contains(&w))
        };
        if list.iter().any(hit) {
            return outcome;
        }
    }
    Outcome::Open
}
