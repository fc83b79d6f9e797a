//! CSV files for people: the reports and `reconcile --output` are opened in spreadsheets,
//! and a spreadsheet evaluates a cell that starts like a formula. A CRM field or an API error
//! message is text from outside (`=HYPERLINK(...)`, `@SUM(...)`, `-2+3`), so every cell these
//! files carry goes through [`neutralise`], as the OWASP guidance on CSV injection says: a
//! cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote in
//! front, which spreadsheets show as text and do not evaluate.
//!
//! A cell that is a plain number (`-5`, `+1.5`) is left alone: a spreadsheet reads it as that
//! number and nothing else, so there is nothing to neutralise, and a quote in front would turn
//! a count into text for the people summing it.

use std::borrow::Cow;
use std::io::Write;

/// The first characters that make a spreadsheet evaluate a cell.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell`, with a single quote in front when a spreadsheet would evaluate it as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(first) if FORMULA_STARTS.contains(&first) && !is_plain_number(cell) => {
            Cow::Owned(format!("'{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// A sign, digits, and at most one decimal point followed by digits: `-5`, `+12.50`.
fn is_plain_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// A CSV writer whose every cell is [`neutralise`]d: the one way the tool writes CSV for
/// people.
pub struct SpreadsheetCsv<W: Write> {
    writer: csv::Writer<W>,
}

impl<W: Write> SpreadsheetCsv<W> {
    /// A writer on `out` that writes `header` first.
    pub fn new(out: W, header: &[&str]) -> std::io::Result<Self> {
        let mut csv = SpreadsheetCsv {
            writer: csv::Writer::from_writer(out),
        };
        csv.row(header)?;
        Ok(csv)
    }

    /// One row, each cell neutralised.
    pub fn row<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells = cells
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned());
        Ok(self.writer.write_record(cells)?)
    }

    /// Flush what is buffered into the output.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::neutralise;

    #[test]
    fn formula_starts_get_a_quote_and_other_text_is_left_alone() {
        for (cell, shown) in [
            ("=1+2", "'=1+2"),
            ("+1-2", "'+1-2"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("--5", "'--5"),
            ("Contoso = big", "Contoso = big"),
            ("", ""),
            ("OPP-1", "OPP-1"),
        ] {
            assert_eq!(neutralise(cell), shown, "{cell:?}");
        }
    }

    #[test]
    fn plain_numbers_stay_numbers() {
        for cell in ["-5", "+5", "-12.50", "0", "404"] {
            assert_eq!(neutralise(cell), cell);
        }
    }
}
