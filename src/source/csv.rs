//! Reads delimited text (CSV, semicolon-separated, TSV) as a stream of rows.
//!
//! The first record is the header (or the record on `--header-row`). Every cell is text: a
//! `Cell::Span` into the row's text (the record's fields end to end, one buffer per row,
//! reused once the caller hands the row back), or `Cell::Empty` for an empty field. CSV has
//! no types; the mapping decides.
//!
//! Row numbers are the line where a record starts, as an editor shows it (from
//! `csv::Position::line`, corrected after blank lines): a quoted field that spans three lines
//! makes the next record start three lines later, and the row number says so.
//!
//! Records end at `\n`; a `\r` before it is dropped, so CRLF and LF files read alike. A file
//! whose first 64 KiB hold `\r` but no `\n` has classic Mac OS line ends: every `\r` is read
//! as `\n`.
//!
//! A quote that is never closed would make the rest of the file one field; the record where
//! it opened is a row error instead, naming the line of the quote, and reading stops there
//! (the rows before it go on). See [`super::csv_scan`].
//!
//! A CSV saved from a Dynamics 365 export keeps its `(Do Not Modify)` columns; they get the
//! same stable names as in a workbook (see [`super::dynamics`]), judged by the first 20 rows.
//!
//! Encodings are decided from the first 64 KiB (see [`super::encoding`]): a byte-order mark,
//! else `--encoding`, else UTF-16 recognised by its NUL bytes, else UTF-8 when the text is
//! (mostly) UTF-8, else the encoding a detector guesses; an assumed encoding is logged as a
//! warning. In a file read as UTF-8, a row with an invalid byte is a row error.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::csv::{ByteRecord, Reader, ReaderBuilder, Terminator};
use encoding_rs_io::DecodeReaderBytesBuilder;

use super::csv_scan::{QuoteScan, ScanState};
use super::dynamics;
use super::encoding::{self, Decoding};
use super::{Cell, Headers, Row, RowError, RowSource, SourceError, SourceOptions};

const SNIFF_BYTES: usize = 64 * 1024;

/// How many records are read ahead to recognise Dynamics Do-Not-Modify columns.
const SCAN_ROWS: usize = 20;

/// A streaming reader of one delimited text file.
pub struct CsvSource {
    file: Arc<PathBuf>,
    reader: Reader<Box<dyn Read + Send>>,
    /// Follows the quoting of the text `reader` reads (see [`super::csv_scan`]).
    scan: Arc<ScanState>,
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
    /// The buffers of a row handed back by the caller, filled again for the next row.
    spare: Option<Row>,
}

impl CsvSource {
    /// Open a file, detect its encoding and delimiter, and read the header row.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file: Box<dyn Read + Send> = Box::new(File::open(path).map_err(io_err)?);
        let input = match &opts.meter {
            Some(meter) => meter.wrap(file),
            None => file,
        };
        Self::from_reader(path, input, opts)
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
        let decoding = encoding::decide(head, opts.encoding);
        if let Some(assumed) = decoding.assumed() {
            tracing::warn!("{}: {assumed}", path.display());
        }
        let mut decoded: Box<dyn Read + Send> = match decoding {
            Decoding::Utf8 { skip } => {
                raw.consume(skip);
                Box::new(raw)
            }
            Decoding::Transcode(encoding) => Box::new(transcode(raw, encoding)),
            Decoding::Detected(encoding, _) => Box::new(transcode(raw, Some(encoding))),
        };
        let mut prefix = read_prefix(&mut decoded).map_err(io_err)?;
        // Classic Mac OS line ends: `\r` alone, never `\n`.
        let cr_only = !prefix.contains(&b'\n') && prefix.contains(&b'\r');
        if cr_only {
            prefix
                .iter_mut()
                .filter(|b| **b == b'\r')
                .for_each(|b| *b = b'\n');
        }
        let delimiter = match opts.delimiter {
            Some(d) => d,
            None => detect_delimiter(&prefix, opts.header_row.unwrap_or(1)),
        };
        let text = std::io::Cursor::new(prefix).chain(decoded);
        let (text, scan) = QuoteScan::new(text, delimiter, cr_only);
        let reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .terminator(Terminator::Any(b'\n'))
            .from_reader(Box::new(text) as Box<dyn Read + Send>);
        Self::with_headers(path, reader, scan, opts.header_row.unwrap_or(1))
    }

    fn with_headers(
        path: &Path,
        mut reader: Reader<Box<dyn Read + Send>>,
        scan: Arc<ScanState>,
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
        if let Some(line) = scan.unclosed() {
            return Err(SourceError::Unreadable {
                path: path.to_path_buf(),
                message: format!(
                    "the header row has a quote, opened on line {line}, that is never closed"
                ),
            });
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
            scan,
            width: names.len(),
            headers: Arc::new(Headers::default()),
            aliases: Vec::new(),
            ahead: VecDeque::new(),
            failed: None,
            record,
            done: false,
            spare: None,
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

    /// Read the next record into `self.record`; `Ok(false)` at the end. A failure (I/O,
    /// undecodable text, a quote never closed) ends the reading: the rest of the file cannot
    /// be trusted.
    fn read(&mut self) -> Result<bool, RowError> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(more) => {
                self.done = !more;
                match self.scan.unclosed() {
                    Some(opened) if more => Err(self.unclosed_quote(opened)),
                    _ => Ok(more),
                }
            }
            Err(e) => {
                self.done = true;
                let row = e.position().map_or(self.scan.record_line(), |p| p.line());
                Err(self.row_error(row, None, e.to_string()))
            }
        }
    }

    /// The error for the record just read, whose last field opens a quote on line `opened`
    /// that the end of the file left open: that field swallowed the rest of the file.
    fn unclosed_quote(&mut self, opened: u64) -> RowError {
        self.done = true;
        let row = record_line(&self.record, &self.reader);
        let field = self.record.len().saturating_sub(1);
        let column = self.headers.names().get(field).cloned();
        let last = self.scan.line();
        let message = format!(
            "the quote that opens this field on line {opened} is never closed: the rest of \
             the file (to line {last}) would be read into it; close the quote (a quote inside \
             a quoted field is written twice: \"\")"
        );
        self.row_error(row, column, message)
    }

    /// Turn a record into a row; `None` for a record with only empty fields. The row's text
    /// is the record's, its cells spans into it; `spare` lends its buffers.
    fn convert(
        &self,
        record: &ByteRecord,
        row: u64,
        spare: Option<Row>,
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
        // The fields lie end to end in the record, so valid fields make valid text; when the
        // text is not valid, the first field that is not names the problem.
        let Ok(whole) = std::str::from_utf8(record.as_slice()) else {
            let bad = (0..width)
                .find(|&i| {
                    record
                        .get(i)
                        .is_some_and(|f| std::str::from_utf8(f).is_err())
                })
                .unwrap_or(0);
            return Some(Err(self.invalid_utf8(record, row, bad)));
        };
        let (mut text, mut values) = match spare {
            Some(spare) => (spare.text, spare.values),
            None => (String::new(), Vec::new()),
        };
        text.clear();
        text.push_str(whole);
        values.clear();
        values.reserve(width + self.aliases.len());
        for i in 0..width {
            // A field must start and end on character boundaries of the record's text.
            let Some(range) = record
                .range(i)
                .filter(|r| whole.is_char_boundary(r.start) && whole.is_char_boundary(r.end))
            else {
                return Some(Err(self.invalid_utf8(record, row, i)));
            };
            let mut end = range.end;
            if i + 1 == width && whole.as_bytes().get(end.wrapping_sub(1)) == Some(&b'\r') {
                end -= 1;
            }
            values.push(span(range.start, end));
        }
        for &column in &self.aliases {
            let cell = values.get(column).cloned().unwrap_or(Cell::Empty);
            values.push(cell);
        }
        Some(Ok(Row {
            file: Arc::clone(&self.file),
            row,
            headers: Arc::clone(&self.headers),
            values,
            text,
        }))
    }
}

/// The cell of a field at `start..end` of its record: empty, or a span.
fn span(start: usize, end: usize) -> Cell {
    match (u32::try_from(start), u32::try_from(end)) {
        _ if start >= end => Cell::Empty,
        (Ok(start), Ok(end)) => Cell::Span { start, end },
        // A record over 4 GiB; csv cannot hold one, but no offset is ever cut short.
        _ => Cell::Empty,
    }
}

impl Iterator for CsvSource {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some((record, line)) = self.ahead.pop_front() {
            if let Some(result) = self.convert(&record, line, None) {
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
                    let spare = self.spare.take();
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
            self.spare = Some(row);
        }
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

/// A reader that turns text in `encoding` (or in the encoding of its byte-order mark) into
/// UTF-8, dropping the mark.
fn transcode<R: Read + Send>(
    raw: R,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> impl Read + Send {
    DecodeReaderBytesBuilder::new()
        .encoding(encoding)
        .bom_override(true)
        .strip_bom(true)
        .build(raw)
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
