//! Turns the raw `--encoding`, `--delimiter`, `--sheet` and `--header-row` flags into
//! validated [`SourceOptions`], so that no reader ever sees an unchecked flag.

use crate::cli::InputArgs;
use crate::error::Error;

use super::SourceOptions;

impl SourceOptions {
    /// Validate the input flags: the encoding must be a WHATWG label (`windows-1252`,
    /// `latin1`, `utf-16le`…), the delimiter one ASCII character or `\t` / `tab`, the header
    /// row at least 1.
    pub fn from_args(args: &InputArgs) -> Result<Self, Error> {
        let encoding = match args.encoding.as_deref() {
            None => None,
            Some(label) => Some(parse_encoding(label)?),
        };
        let delimiter = match args.delimiter.as_deref() {
            None => None,
            Some(text) => Some(parse_delimiter(text)?),
        };
        if args.header_row == Some(0) {
            return Err(Error::usage(
                "--header-row counts from 1 (the first row of the sheet is row 1)",
            ));
        }
        Ok(SourceOptions {
            encoding,
            delimiter,
            sheet: args.sheet.clone(),
            header_row: args.header_row,
            meter: None,
        })
    }
}

fn parse_encoding(label: &str) -> Result<&'static encoding_rs::Encoding, Error> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
        Error::usage(format!(
            "--encoding {label:?} is not a known encoding; try utf-8, windows-1252, utf-16le or utf-16be"
        ))
    })
}

fn parse_delimiter(text: &str) -> Result<u8, Error> {
    match text {
        "\\t" | "\t" | "tab" | "TAB" => return Ok(b'\t'),
        _ => {}
    }
    match text.as_bytes() {
        [byte] if byte.is_ascii() && !matches!(byte, b'"' | b'\n' | b'\r') => Ok(*byte),
        _ => Err(Error::usage(format!(
            "--delimiter {text:?} must be one ASCII character other than a quote or line break (`\\t` for tab)"
        ))),
    }
}
