//! Reads delimited text (CSV, semicolon-separated, TSV) as a stream of rows.
//!
//! The first record is the header (or the record on `--header-row`). Every cell is a
//! `Cell::String`, or `Cell::Empty` for an empty field: CSV has no types, the mapping decides.
//!
//! Row numbers are the line where a record starts, as an editor shows it (from
//! `csv::Position::line`, corrected after blank lines): a quoted field that spans three lines
//! makes the next record start three lines later, and the row number says so.
//!
//! Records end at `\n`; a `\r` before it is dropped, so CRLF and LF files read alike (a
//! file with bare `\r` line ends, as classic Mac OS wrote, is not supported).
//!
//! A CSV saved from a Dynamics 365 export keeps its `(Do Not Modify)` columns; they get the
//! same stable names as in a workbook (see [`super::dynamics`]), judged by the first 20 rows.
//!
//! Encodings: UTF-8 with or without a byte-order mark is read as is. A UTF-16 BOM switches to
//! UTF-16. `--encoding` (e.g. `windows-1252`) transcodes everything, though a BOM still wins.
//! Without `--encoding`, invalid UTF-8 in the first 64 KiB fails the whole file with the line
//! and byte offset; later invalid bytes make that row an error.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::csv::{ByteRecord, Reader, ReaderBuilder, Terminator};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::dynamics;
use super::{Cell, Headers, Row, RowError, RowSource, SourceError, SourceOptions};

const SNIFF_BYTES: usize = 64 * 1024;

/// How many records are read ahead to recognise Dynamics Do-Not-Modify columns.
const SCAN_ROWS: usize = 20;

/// A streaming reader of one delimited text file.
pub struct CsvSource {
    file: Arc<PathBuf>,
    reader: Reader<Box<dyn Read + Send>>,
    headers: Arc<Headers>,
    /// Columns in the file; Dynamics aliases follow them in `headers`.
    width: usize,
    /// The file column copied into each alias column.
    aliases: Vec<usize>,
    /// Records read ahead (with their line), handed out before reading on.
    ahead: VecDeque<(ByteRecord, u64)>,
    /// A read failure met while reading ahead, reported after the records before it.
    failed: Option<RowError>,
    record: ByteRecord,
    done: bool,
    /// The cells of a row handed back by the caller: their strings are filled again.
    spare: Vec<Cell>,
}

impl CsvSource {
    /// Open a file, detect its encoding and delimiter, and read the header row.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        Self::from_reader(path, Box::new(file), opts)
    }

    /// Read delimited text from any reader; `path` names it in rows and errors.
    pub fn from_reader(
        path: &Path,
        input: Box<dyn Read + Send>,
        opts: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut raw = BufReader::with_capacity(SNIFF_BYTES, input);
        let head = raw.fill_buf().map_err(io_err)?;
        let decoded: Box<dyn Read + Send> = match (bom_kind(head), opts.encoding) {
            (Bom::Utf8, None) => {
                check_utf8(path, head)?;
                raw.consume(3);
                Box::new(raw)
            }
            (Bom::None, None) => {
                check_utf8(path, head)?;
                Box::new(raw)
            }
            (_, encoding) => Box::new(
                DecodeReaderBytesBuilder::new()
                    .encoding(encoding)
                    .bom_override(true)
                    .strip_bom(true)
                    .build(raw),
            ),
        };
        let mut decoded = decoded;
        let prefix = read_prefix(&mut decoded).map_err(io_err)?;
        let delimiter = match opts.delimiter {
            Some(d) => d,
            None => detect_delimiter(&prefix, opts.header_row.unwrap_or(1)),
        };
        let text = std::io::Cursor::new(prefix).chain(decoded);
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .terminator(Terminator::Any(b'\n'))
            .from_reader(Box::new(text) as Box<dyn Read + Send>);
        Self::with_headers(path, reader, opts.header_row.unwrap_or(1))
    }

    fn with_headers(
        path: &Path,
        mut reader: Reader<Box<dyn Read + Send>>,
        header_row: u32,
    ) -> Result<Self, SourceError> {
        let no_header = || SourceError::NoHeader {
            path: path.to_path_buf(),
            sheet: None,
        };
        let mut record = ByteRecord::new();
        loop {
            let more = reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(path, e))?;
            if !more {
                return Err(no_header());
            }
            if record_line(&record, &reader) >= u64::from(header_row) {
                break;
            }
        }
        let names = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_owned())
            .collect::<Vec<_>>();
        if names.iter().all(String::is_empty) {
            return Err(no_header());
        }
        let mut source = CsvSource {
            file: Arc::new(path.to_path_buf()),
            reader,
            width: names.len(),
            headers: Arc::new(Headers::default()),
            aliases: Vec::new(),
            ahead: VecDeque::new(),
            failed: None,
            record,
            done: false,
            spare: Vec::new(),
        };
        source.add_dynamics_aliases(names);
        Ok(source)
    }

    /// Set the headers; when Do-Not-Modify columns are present, read a few records ahead to
    /// tell them apart and add their stable names.
    fn add_dynamics_aliases(&mut self, mut names: Vec<String>) {
        if dynamics::has_do_not_modify(&names) {
            while self.ahead.len() < SCAN_ROWS && !self.done {
                match self.read() {
                    Ok(true) => {
                        let line = record_line(&self.record, &self.reader);
                        self.ahead.push_back((self.record.clone(), line));
                    }
                    Ok(false) => {}
                    Err(e) => self.failed = Some(e),
                }
            }
            let sample: Vec<Vec<Cell>> = self
                .ahead
                .iter()
                .map(|(record, _)| record.iter().map(text_cell).collect())
                .collect();
            for (alias, column) in dynamics::aliases(&names, &sample) {
                names.push(alias.to_owned());
                self.aliases.push(column);
            }
        }
        self.headers = Arc::new(Headers::new(names));
    }

    fn row_error(&self, row: u64, column: Option<String>, message: String) -> RowError {
        RowError {
            file: Arc::clone(&self.file),
            row,
            column,
            message,
        }
    }

    /// The row error for a field that is not UTF-8.
    fn invalid_utf8(&self, record: &ByteRecord, row: u64, field: usize) -> RowError {
        let column = self.headers.names().get(field).cloned();
        let offset = record.position().map_or(0, |p| p.byte());
        let message = format!(
            "invalid UTF-8 in this field (record at byte {offset}); if the file is not UTF-8, pass its encoding, e.g. `--encoding windows-1252`"
        );
        self.row_error(row, column, message)
    }

    /// Read the next record into `self.record`; `Ok(false)` at the end. A failure (I/O, or
    /// undecodable text) ends the reading: the rest of the file cannot be trusted.
    fn read(&mut self) -> Result<bool, RowError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => {
                self.done = !more;
                Ok(more)
            }
            Err(e) => {
                self.done = true;
                let row = e.position().map_or(0, |p| p.line());
                Err(self.row_error(row, None, e.to_string()))
            }
        }
    }

    /// Turn a record into a row; `None` for a record with only empty fields.
    /// `spare` holds the cells of a recycled row, whose strings are filled again.
    fn convert(
        &self,
        record: &ByteRecord,
        row: u64,
        spare: Vec<Cell>,
    ) -> Option<Result<Row, RowError>> {
        let width = self.width;
        if record.iter().all(|f| matches!(f, b"" | b"\r")) {
            return None;
        }
        if record.len() != width {
            let message = format!(
                "ragged row: {} fields, but the header has {width} columns",
                record.len()
            );
            return Some(Err(self.row_error(row, None, message)));
        }
        // Validate the record once; a field is then valid if it starts and ends on character
        // boundaries (what `csv::StringRecord` does, without giving up on the whole file).
        let whole = std::str::from_utf8(record.as_slice()).ok();
        let mut spare = spare.into_iter();
        let mut values = Vec::with_capacity(width + self.aliases.len());
        for i in 0..width {
            let text = match whole {
                Some(whole) => record.range(i).and_then(|range| whole.get(range)),
                None => record.get(i).and_then(|f| std::str::from_utf8(f).ok()),
            };
            let Some(text) = text else {
                return Some(Err(self.invalid_utf8(record, row, i)));
            };
            let text = if i + 1 == width {
                text.strip_suffix('\r').unwrap_or(text)
            } else {
                text
            };
            values.push(text_into(text, spare.next()));
        }
        for &column in &self.aliases {
            let text = match values.get(column) {
                Some(Cell::String(text)) => text.as_str(),
                _ => "",
            };
            let cell = text_into(text, spare.next());
            values.push(cell);
        }
        Some(Ok(Row {
            file: Arc::clone(&self.file),
            row,
            headers: Arc::clone(&self.headers),
            values,
        }))
    }
}

impl Iterator for CsvSource {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some((record, line)) = self.ahead.pop_front() {
            if let Some(result) = self.convert(&record, line, Vec::new()) {
                return Some(result);
            }
        }
        if let Some(failed) = self.failed.take() {
            return Some(Err(failed));
        }
        while !self.done {
            match self.read() {
                Ok(true) => {
                    let line = record_line(&self.record, &self.reader);
                    let spare = std::mem::take(&mut self.spare);
                    if let Some(result) = self.convert(&self.record, line, spare) {
                        return Some(result);
                    }
                }
                Ok(false) => {}
                Err(e) => return Some(Err(e)),
            }
        }
        None
    }
}

impl RowSource for CsvSource {
    fn path(&self) -> &Path {
        &self.file
    }
    fn headers(&self) -> Option<Arc<Headers>> {
        Some(Arc::clone(&self.headers))
    }
    fn recycle(&mut self, row: Row) {
        if Arc::ptr_eq(&row.headers, &self.headers) {
            self.spare = row.values;
        }
    }
}

/// The cell for a field's text, in the string of a recycled cell when there is one.
fn text_into(text: &str, spare: Option<Cell>) -> Cell {
    match (text, spare) {
        ("", _) => Cell::Empty,
        (text, Some(Cell::String(mut buffer))) => {
            buffer.clear();
            buffer.push_str(text);
            Cell::String(buffer)
        }
        (text, _) => Cell::String(text.to_owned()),
    }
}

/// The line where `record`, just read by `reader`, starts. `csv` reports the position where
/// the previous record ended, which is a line early after skipped blank lines; counting back
/// from the end of the record (less the line breaks inside quoted fields) fixes that.
fn record_line<R: Read>(record: &ByteRecord, reader: &Reader<R>) -> u64 {
    let start = record.position().map_or(1, |p| p.line());
    let end = reader.position().line();
    let bytes = record.as_slice();
    let inner = if bytes.contains(&b'\n') {
        bytes.iter().filter(|&&b| b == b'\n').count() as u64
    } else {
        0
    };
    start.max(end.saturating_sub(inner + 1))
}

/// A field as a cell for the Dynamics sample (invalid UTF-8 counts as text).
fn text_cell(field: &[u8]) -> Cell {
    match field {
        b"" | b"\r" => Cell::Empty,
        _ => Cell::String(
            String::from_utf8_lossy(field)
                .trim_end_matches('\r')
                .to_owned(),
        ),
    }
}

enum Bom {
    None,
    Utf8,
    Other,
}

fn bom_kind(head: &[u8]) -> Bom {
    match head {
        [0xEF, 0xBB, 0xBF, ..] => Bom::Utf8,
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => Bom::Other,
        _ => Bom::None,
    }
}

/// Fail early on text that is not UTF-8; a sequence cut by the end of the sample is fine.
fn check_utf8(path: &Path, head: &[u8]) -> Result<(), SourceError> {
    match std::str::from_utf8(head) {
        Ok(_) => Ok(()),
        Err(e) if e.error_len().is_none() => Ok(()),
        Err(e) => {
            let valid = head.get(..e.valid_up_to()).unwrap_or_default();
            let line = 1 + valid.iter().filter(|&&b| b == b'\n').count() as u64;
            Err(SourceError::InvalidUtf8 {
                path: path.to_path_buf(),
                line,
                offset: e.valid_up_to() as u64,
            })
        }
    }
}

/// The first [`SNIFF_BYTES`] of the text (less at the end of the input): one `read` of a
/// decoder may return only a few bytes.
fn read_prefix(input: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    input.take(SNIFF_BYTES as u64).read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// Pick `,`, `;` or tab: the one that occurs most often outside quotes on the header line
/// (line `header_line`, 1-based). Ties and a line with none of them give `,`.
fn detect_delimiter(head: &[u8], header_line: u32) -> u8 {
    let (mut comma, mut semicolon, mut tab) = (0usize, 0usize, 0usize);
    let mut quoted = false;
    let mut line = 1;
    for &b in head {
        let on_header = line == header_line;
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted && on_header => break,
            b'\n' if !quoted => line += 1,
            b',' if !quoted && on_header => comma += 1,
            b';' if !quoted && on_header => semicolon += 1,
            b'\t' if !quoted && on_header => tab += 1,
            _ => {}
        }
    }
    if semicolon > comma && semicolon >= tab {
        b';'
    } else if tab > comma && tab > semicolon {
        b'\t'
    } else {
        b','
    }
}

fn csv_error(path: &Path, err: ::csv::Error) -> SourceError {
    let line = err.position().map(|p| p.line());
    match err.into_kind() {
        ::csv::ErrorKind::Io(source) => SourceError::Io {
            path: path.to_path_buf(),
            source,
        },
        other => SourceError::Truncated {
            path: path.to_path_buf(),
            line,
            detail: format!("{other:?}"),
        },
    }
}
