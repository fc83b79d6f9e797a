//! Writes `samples/dynamics365-export.xlsx`: a small Dynamics 365 "Export to Excel" workbook
//! of opportunities, shaped like the real thing (hidden `(Do Not Modify)` columns A–C, a
//! hidden `hiddenSheet` with the entity metadata, related-table column labels, real date
//! cells), for `mappings/dynamics365-export.toml` and its tests.
//!
//! Run with `cargo run --example make_samples`; the output is committed, so this only needs
//! to run again when the sample should change.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};

const HEADERS: &[&str] = &[
    "(Do Not Modify) Opportunity",
    "(Do Not Modify) Row Checksum",
    "(Do Not Modify) Modified On",
    "Topic",
    "Potential Customer",
    "Status",
    "Est. revenue",
    "Est. close date",
    "Currency",
    "Address 1: City (Potential Customer) (Account)",
    "Address 1: Country/Region (Potential Customer) (Account)",
    "Microsoft Products",
    "Sync with Partner Center",
    "How can Microsoft help?",
    "Solution Id",
    "Description",
    "Contact 1 First Name",
    "Contact 1 Last Name",
    "Contact 1 Email",
    "Contact 2 First Name",
    "Contact 2 Last Name",
    "Contact 2 Email",
];

/// One opportunity: text cells by header position, plus the revenue and close date.
struct Opportunity {
    guid: &'static str,
    topic: &'static str,
    customer: &'static str,
    status: &'static str,
    revenue: f64,
    close: (u16, u8, u8),
    currency: &'static str,
    city: &'static str,
    country: &'static str,
    products: &'static str,
    sync: &'static str,
    help: &'static str,
    solution: &'static str,
    description: &'static str,
    contacts: [(&'static str, &'static str, &'static str); 2],
}

const ROWS: &[Opportunity] = &[
    Opportunity {
        guid: "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b01",
        topic: "Alpine Ski House | Cloud migration of the booking system",
        customer: "Alpine Ski House",
        status: "Open",
        revenue: 125_000.0,
        close: (2027, 2, 26),
        currency: "US Dollar",
        city: "Dallas",
        country: "United States",
        products: "Azure; Microsoft365",
        sync: "Yes",
        help: "Proof of concept or demo",
        solution: "SOL-34104-EBB",
        description: "Booking system on premises; wants a landing zone and a pilot.",
        contacts: [
            ("Cacilia", "Viera", "cacilia.viera@alpineskihouse.example"),
            ("Tomas", "Berg", "tomas.berg@alpineskihouse.example"),
        ],
    },
    Opportunity {
        guid: "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b02",
        topic: "Fabrikam | Teams rollout",
        customer: "Fabrikam GmbH",
        status: "Open",
        revenue: 48_500.5,
        close: (2026, 12, 18),
        currency: "Euro",
        city: "Berlin",
        country: "Deutschland",
        products: "Teams",
        sync: "Yes",
        help: "",
        solution: "",
        description: "1,200 seats, phased by site.",
        contacts: [
            ("Jonas", "Weber", "jonas.weber@fabrikam.example"),
            ("", "", ""),
        ],
    },
    Opportunity {
        guid: "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b03",
        topic: "Litware | Power BI for finance",
        customer: "Litware, Inc.",
        status: "Won",
        revenue: 22_000.0,
        close: (2026, 10, 1),
        currency: "US Dollar",
        city: "Seattle",
        country: "United States",
        products: "PowerBI",
        sync: "Yes",
        help: "",
        solution: "",
        description: "Signed; reports go live in Q1.",
        contacts: [
            ("Ana", "Bowman", "ana.bowman@litware.example"),
            ("", "", ""),
        ],
    },
    Opportunity {
        guid: "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b04",
        topic: "Northwind | Internal pilot (do not sync)",
        customer: "Northwind Traders",
        status: "Open",
        revenue: 3_000.0,
        close: (2026, 11, 30),
        currency: "Pound Sterling",
        city: "London",
        country: "United Kingdom",
        products: "",
        sync: "No",
        help: "",
        solution: "",
        description: "Internal only.",
        contacts: [("", "", ""), ("", "", "")],
    },
    Opportunity {
        guid: "3f2b6a1e-8c4d-ee11-be6e-000d3a5a1b05",
        topic: "Tailspin Toys | Licensing true-up",
        customer: "Tailspin Toys",
        status: "Lost",
        revenue: 9_750.0,
        close: (2026, 9, 15),
        currency: "Canadian Dollar",
        city: "Toronto",
        country: "Canada",
        products: "Microsoft365; Windows",
        sync: "Yes",
        help: "Quotes or licensing",
        solution: "SOL-34104-EBB",
        description: "Went with a competitor's agreement.",
        contacts: [("Mei", "Chen", "mei.chen@tailspin.example"), ("", "", "")],
    },
];

fn main() -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    // A fixed creation time keeps the file byte-identical from run to run.
    let created = ExcelDateTime::from_ymd(2026, 11, 20)?.and_hms(9, 30, 0)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let date = Format::new().set_num_format("m/d/yyyy");
    let datetime = Format::new().set_num_format("m/d/yyyy h:mm");
    let sheet = workbook.add_worksheet().set_name("My Open Opportunities")?;
    for (col, header) in (0u16..).zip(HEADERS) {
        sheet.write_string(0, col, *header)?;
    }
    for (row, o) in (1u32..).zip(ROWS) {
        let text: [&str; 18] = [
            o.guid,
            "EeLB8PgLRUXo1Nqm1jGr9Q==",
            "",
            o.topic,
            o.customer,
            o.status,
            "",
            "",
            o.currency,
            o.city,
            o.country,
            o.products,
            o.sync,
            o.help,
            o.solution,
            o.description,
            "",
            "",
        ];
        for (col, value) in (0u16..).zip(text) {
            if !value.is_empty() {
                sheet.write_string(row, col, value)?;
            }
        }
        let modified = ExcelDateTime::from_ymd(2026, 11, 20)?.and_hms(9, 30, 0)?;
        sheet.write_datetime_with_format(row, 2, &modified, &datetime)?;
        sheet.write_number(row, 6, o.revenue)?;
        let (y, m, d) = o.close;
        sheet.write_datetime_with_format(row, 7, &ExcelDateTime::from_ymd(y, m, d)?, &date)?;
        for (i, (first, last, email)) in o.contacts.iter().enumerate() {
            let base = 16 + 3 * i as u16;
            for (offset, value) in [first, last, email].into_iter().enumerate() {
                if !value.is_empty() {
                    sheet.write_string(row, base + offset as u16, *value)?;
                }
            }
        }
    }
    for col in 0..3 {
        sheet.set_column_hidden(col)?;
    }
    let hidden = workbook.add_worksheet().set_name("hiddenSheet")?;
    hidden.write_string(0, 0, "opportunity:Tg0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ")?;
    hidden.set_hidden(true);
    workbook.save("samples/dynamics365-export.xlsx")
}
