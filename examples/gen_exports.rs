//! Synthetic Dynamics 365 "Export to Excel" opportunity exports, for the benchmarks and the
//! chaos suite.
//!
//! Real exports cannot be shared at benchmark sizes, so this writes look-alikes: the three
//! hidden `(Do Not Modify)` columns with GUIDs, display-name headers, related-table columns such
//! as `Address 1: Country/Region (Potential Customer) (Account)`, labels instead of codes, money
//! without a symbol, the co-sell connector's columns that `mappings/dynamics365-export.toml`
//! reads. CSV output has the BOM and CRLF of Excel's "CSV UTF-8" save, with ISO dates (as a
//! workbook-to-CSV conversion writes them, and as the shipped mapping parses text dates);
//! XLSX output has real date cells, hidden A–C columns and a hidden `hiddenSheet`, as Dynamics
//! writes it. Every row is derived from `(seed, row index)` alone, so a 10k file is the prefix
//! of the 1M file made with the same seed, and a re-run gives byte-identical CSV. Both formats
//! are written streaming (the XLSX in rust_xlsxwriter's low-memory mode).
//!
//! ```text
//! cargo run --release --example gen_exports -- --rows 100000 --format csv --out bench/data/100k.csv
//! ```

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, ValueEnum};
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook, XlsxError};

/// Write a synthetic Dynamics 365 opportunity export.
#[derive(Debug, Parser)]
struct Args {
    /// Number of data rows (the header is extra).
    #[arg(long)]
    rows: u64,
    /// Output format.
    #[arg(long, value_enum)]
    format: Format,
    /// The file to write (its directory must exist).
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed always gives the same rows.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Change every Nth row's Est. revenue (an export taken after some deals moved); 0: none.
    #[arg(long, default_value_t = 0)]
    change_every: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Csv,
    Xlsx,
}

/// The header row: a customised "Open Opportunities" view with the columns the Partner Center
/// co-sell connector adds (`Sync with Partner Center`, `How can Microsoft help?`, …), as
/// `mappings/dynamics365-export.toml` expects them.
const HEADERS: [&str; 31] = [
    "(Do Not Modify) Opportunity",
    "(Do Not Modify) Row Checksum",
    "(Do Not Modify) Modified On",
    "Topic",
    "Potential Customer",
    "Status",
    "Status Reason",
    "Est. revenue",
    "Est. close date",
    "Currency",
    "Probability",
    "Rating",
    "Owner",
    "Address 1: Street 1 (Potential Customer) (Account)",
    "Address 1: City (Potential Customer) (Account)",
    "Address 1: State/Province (Potential Customer) (Account)",
    "Address 1: ZIP/Postal Code (Potential Customer) (Account)",
    "Address 1: Country/Region (Potential Customer) (Account)",
    "Industry (Potential Customer) (Account)",
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
    "Created On",
];
const REVENUE_COLUMN: usize = 7;

#[rustfmt::skip]
const COMPANIES: [&str; 24] = [
    "Adatum Corporation", "Alpine Ski House", "Bellows College", "Blue Yonder Airlines",
    "City Power & Light", "Coho Winery", "Contoso Pharmaceuticals", "Fabrikam, Inc.",
    "Fourth Coffee", "Graphic Design Institute", "Humongous Insurance", "Litware, Inc.",
    "Lucerne Publishing", "Margie's Travel", "Northwind Traders", "Proseware, Inc.", "Relecloud",
    "School of Fine Art", "Southridge Video", "Tailspin Toys", "Trey Research", "VanArsdel, Ltd.",
    "Wide World Importers", "Woodgrove Bank",
];
#[rustfmt::skip]
const PROJECTS: [(&str, &str); 8] = [
    ("Azure migration of the booking system", "Azure"),
    ("Microsoft 365 E5 rollout", "Microsoft365; Teams"),
    ("Dynamics 365 Sales for the field team", "Dynamics365Business"),
    ("Power BI for finance", "PowerBI"),
    ("Teams Rooms in every office", "Teams; SurfaceHub"),
    ("SQL Server upgrade", "SQL; Azure"),
    ("Security assessment", "EnterpriseMobilityAndSecurity"),
    ("Data platform modernisation", "Azure; PowerBI; SQL"),
];
#[rustfmt::skip]
const FIRST_NAMES: [&str; 12] = [
    "Kevin", "Nancy", "Alan", "Per", "Jim", "Maria", "Yvonne", "René", "Sanjay", "Aiko", "Lars",
    "Fatima",
];
#[rustfmt::skip]
const LAST_NAMES: [&str; 12] = [
    "Martin", "Anderson", "Ross", "Mikkelsen", "Nakashima", "García", "McKay", "Valdes", "Patel",
    "Tanaka", "Jensen", "Haddad",
];
#[rustfmt::skip]
const OWNERS: [&str; 5] = [
    "Jim Nakashima", "Alan Ross", "Per Mikkelsen", "Nancy Anderson", "Sanjay Shah",
];
/// (country as the account holds it, currency label, cities as (city, state, ZIP prefix)).
type Place = (
    &'static str,
    &'static str,
    [(&'static str, &'static str, &'static str); 2],
);
#[rustfmt::skip]
const PLACES: [Place; 7] = [
    ("United States", "US Dollar", [("Redmond", "WA", "980"), ("Austin", "TX", "787")]),
    ("United States", "US Dollar", [("Chicago", "IL", "606"), ("Boston", "MA", "021")]),
    ("USA", "US Dollar", [("Denver", "CO", "802"), ("Atlanta", "GA", "303")]),
    ("Canada", "Canadian Dollar", [("Toronto", "ON", "M5V"), ("Vancouver", "BC", "V6B")]),
    ("United Kingdom", "Pound Sterling", [("London", "", "EC1"), ("Leeds", "", "LS1")]),
    ("Deutschland", "Euro", [("München", "Bayern", "803"), ("Hamburg", "Hamburg", "204")]),
    ("Australia", "Australian Dollar", [("Sydney", "NSW", "200"), ("Perth", "WA", "600")]),
];
#[rustfmt::skip]
const INDUSTRIES: [&str; 6] = [
    "Accounting", "Business Services", "Consulting", "Financial", "Insurance", "Wholesale",
];
#[rustfmt::skip]
const HELP: [&str; 3] = [
    "Proof of concept or demo", "Quotes or licensing", "Customer technical architecture",
];

/// One cell of an export.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Number(f64),
    Date(u16, u8, u8),
    DateTime(u16, u8, u8, u16, u8),
}

/// A small, fast and stable PRNG (SplitMix64): the data must not change with a crate version.
struct Rng(u64);

impl Rng {
    fn for_row(seed: u64, row: u64) -> Rng {
        let mut rng = Rng(seed ^ row.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next();
        rng
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// One of a non-empty constant list.
    fn pick<T: Copy + Default>(&mut self, items: &[T]) -> T {
        let i = self.below(items.len() as u64) as usize;
        items.get(i).copied().unwrap_or_default()
    }
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
    fn date(&mut self, first_year: u16, years: u64) -> (u16, u8, u8) {
        let year = first_year + self.below(years) as u16;
        (year, 1 + self.below(12) as u8, 1 + self.below(28) as u8)
    }
    fn datetime(&mut self, first_year: u16, years: u64) -> Value {
        let (y, m, d) = self.date(first_year, years);
        Value::DateTime(y, m, d, self.below(24) as u16, self.below(60) as u8)
    }
}

/// A customer contact: first name, last name, email.
fn contact(rng: &mut Rng, company: &str) -> [Value; 3] {
    let (first, last) = (rng.pick(&FIRST_NAMES), rng.pick(&LAST_NAMES));
    let domain: String = company
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let ascii = |name: &str| -> String {
        name.chars()
            .filter(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_lowercase()
    };
    let email = format!(
        "{}.{}@{}.example",
        ascii(first),
        ascii(last),
        domain.to_lowercase()
    );
    [
        Value::Text(first.to_owned()),
        Value::Text(last.to_owned()),
        Value::Text(email),
    ]
}

/// The 31 cells of one opportunity row.
fn generate(seed: u64, row: u64) -> Vec<Value> {
    let mut rng = Rng::for_row(seed, row);
    let text = |s: &str| Value::Text(s.to_owned());
    let mut cells = vec![Value::Text(rng.guid())];
    cells.push(Value::Text(base64(
        &rng.next().to_le_bytes(),
        &rng.next().to_le_bytes(),
    )));
    cells.push(rng.datetime(2025, 1));
    let company = format!("{} {}", rng.pick(&COMPANIES), 1 + rng.below(400));
    let (project, products) = rng.pick(&PROJECTS);
    cells.push(Value::Text(format!("{company} | {project}")));
    cells.push(text(&company));
    let (status, reason, probability) = match rng.below(10) {
        0 => ("Won", "Won", 100),
        1 => ("Lost", "Out-Sold", 0),
        _ => ("Open", "In Progress", 10 * (1 + rng.below(9))),
    };
    cells.extend([text(status), text(reason)]);
    let cents = if rng.below(4) == 0 { 0.5 } else { 0.0 };
    cells.push(Value::Number((1_000 + rng.below(500_000)) as f64 + cents));
    let (cy, cm, cd) = rng.date(2026, 2);
    let (country, currency, cities) = rng.pick(&PLACES);
    let (city, state, zip) = rng.pick(&cities);
    cells.extend([Value::Date(cy, cm, cd), text(currency)]);
    cells.push(Value::Number(probability as f64));
    cells.extend([
        text(rng.pick(&["Hot", "Warm", "Cold"])),
        text(rng.pick(&OWNERS)),
    ]);
    cells.push(Value::Text(format!("{} Main Street", 1 + rng.below(9_000))));
    cells.extend([
        text(city),
        text(state),
        Value::Text(format!("{zip}{:02}", rng.below(100))),
    ]);
    cells.extend([text(country), text(rng.pick(&INDUSTRIES)), text(products)]);
    cells.push(text(if rng.below(20) == 0 { "No" } else { "Yes" }));
    let (help, solution) = match rng.below(10) {
        0 => (
            rng.pick(&HELP),
            format!("SOL-{:05}-{}", rng.below(100_000), "EBB"),
        ),
        _ => ("", String::new()),
    };
    cells.extend([text(help), Value::Text(solution)]);
    cells.push(Value::Text(format!(
        "{project} for {company}; export row {}.",
        row + 2
    )));
    cells.extend(contact(&mut rng, &company));
    if rng.below(3) == 0 {
        cells.extend(contact(&mut rng, &company));
    } else {
        cells.extend([text(""), text(""), text("")]);
    }
    cells.push(rng.datetime(2023, 2));
    cells
}

/// Standard base64 of 16 bytes (the shape of Dynamics' row checksums).
fn base64(a: &[u8; 8], b: &[u8; 8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
    let mut out = String::with_capacity(24);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &byte)| n | (u32::from(byte) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rows = rows(&args);
    let result = match args.format {
        Format::Csv => write_csv(&args.out, rows),
        Format::Xlsx => write_xlsx(&args.out, rows).map_err(Into::into),
    };
    match result {
        Ok(()) => {
            eprintln!("wrote {} rows to {}", args.rows, args.out.display());
            std::process::ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}: {err}", args.out.display());
            std::process::ExitCode::from(2)
        }
    }
}

/// The rows of an export, generated lazily.
fn rows(args: &Args) -> impl Iterator<Item = Vec<Value>> + use<> {
    let (seed, change_every) = (args.seed, args.change_every);
    (0..args.rows).map(move |i| {
        let mut cells = generate(seed, i);
        if change_every > 0
            && i % change_every == 0
            && let Some(Value::Number(revenue)) = cells.get_mut(REVENUE_COLUMN)
        {
            *revenue += 1.0;
        }
        cells
    })
}

/// Write the CSV as Excel's "CSV UTF-8" save of an export does: BOM, CRLF.
fn write_csv(
    out: &Path,
    rows: impl Iterator<Item = Vec<Value>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = BufWriter::with_capacity(1 << 20, File::create(out)?);
    file.write_all(b"\xEF\xBB\xBF")?;
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    writer.write_record(HEADERS)?;
    let mut fields: Vec<String> = Vec::with_capacity(HEADERS.len());
    for cells in rows {
        fields.clear();
        fields.extend(cells.iter().map(csv_text));
        writer.write_record(&fields)?;
    }
    writer.into_inner().map_err(|e| e.into_error())?.flush()?;
    Ok(())
}

/// A cell as text; dates in ISO form, as a workbook-to-CSV conversion writes them.
fn csv_text(value: &Value) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Date(y, m, d) => format!("{y}-{m:02}-{d:02}"),
        Value::DateTime(y, m, d, hour, minute) => {
            format!("{y}-{m:02}-{d:02} {hour:02}:{minute:02}:00")
        }
    }
}

/// Write the workbook as Dynamics does: hidden A–C, dates as date cells, a hidden metadata
/// sheet after the data sheet.
fn write_xlsx(out: &Path, rows: impl Iterator<Item = Vec<Value>>) -> Result<(), XlsxError> {
    let mut workbook = Workbook::new();
    let date = CellFormat::new().set_num_format("m/d/yyyy");
    let datetime = CellFormat::new().set_num_format("m/d/yyyy h:mm");
    let sheet = workbook.add_worksheet_with_low_memory()?;
    sheet.set_name("My Open Opportunities")?;
    for col in 0..3 {
        sheet.set_column_hidden(col)?;
    }
    sheet.write_row(0, 0, HEADERS)?;
    for (i, cells) in rows.enumerate() {
        let row = u32::try_from(i + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (col, value) in (0u16..).zip(cells.iter()) {
            match value {
                Value::Text(text) => sheet.write_string(row, col, text)?,
                Value::Number(number) => sheet.write_number(row, col, *number)?,
                Value::Date(y, m, d) => {
                    let at = ExcelDateTime::from_ymd(*y, *m, *d)?;
                    sheet.write_datetime_with_format(row, col, at, &date)?
                }
                Value::DateTime(y, m, d, hour, minute) => {
                    let at = ExcelDateTime::from_ymd(*y, *m, *d)?.and_hms(*hour, *minute, 0)?;
                    sheet.write_datetime_with_format(row, col, at, &datetime)?
                }
            };
        }
    }
    let hidden = workbook.add_worksheet();
    hidden.set_name("hiddenSheet")?;
    hidden.write_string(0, 0, "opportunity:synthetic-export-metadata")?;
    hidden.set_hidden(true);
    workbook.save(out)
}
