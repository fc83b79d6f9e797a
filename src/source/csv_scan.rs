//! Watches the text a CSV reader consumes, to say what the `csv` crate cannot: that a quoted
//! field was never closed.
//!
//! `csv` reads a quote that is never closed as a field running to the end of the file: the
//! rest of the file becomes one cell (or, in a middle column, one ragged row). [`QuoteScan`]
//! follows the same quoting rules byte by byte (a field that starts with `"` is quoted up to
//! a `"` that is not doubled) and tells [`super::csv::CsvSource`], through a shared
//! [`ScanState`], whether the input ended inside quotes and on which line the quote opened.
//! A quoted field that runs on for more than [`MAX_QUOTED`] bytes stops the reading the same
//! way, so memory stays bounded however large the file is.
//!
//! It also reads files with classic Mac OS line ends (a bare `\r`) by turning every `\r`
//! into `\n` when asked to.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The longest quoted field read before the quote is taken as never closed.
pub(super) const MAX_QUOTED: u64 = 16 * 1024 * 1024;

/// Where the scanner stands, shared with the reader that owns the CSV parser.
#[derive(Debug, Default)]
pub(super) struct ScanState {
    /// The line where the open quoted field started; 0 when not inside quotes.
    open_line: AtomicU64,
    /// The line where the record being read started.
    record_line: AtomicU64,
    /// The line the scan has reached.
    line: AtomicU64,
    /// Whether the input has ended.
    ended: AtomicBool,
}

impl ScanState {
    /// The line where a quote opened that the end of the input left open.
    pub(super) fn unclosed(&self) -> Option<u64> {
        let open = self.open_line.load(Ordering::Relaxed);
        (self.ended.load(Ordering::Relaxed) && open > 0).then_some(open)
    }

    /// The line where the record being read started.
    pub(super) fn record_line(&self) -> u64 {
        self.record_line.load(Ordering::Relaxed)
    }

    /// The last line that holds text so far (at the end of the input, the file's last line).
    pub(super) fn line(&self) -> u64 {
        self.line.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the end of the field, or the first of a doubled quote.
    QuoteInQuoted,
}

/// A reader that passes text through while following its quoting (see the module docs).
pub(super) struct QuoteScan<R> {
    inner: R,
    delimiter: u8,
    cr_only: bool,
    state: State,
    line: u64,
    open_line: u64,
    record_line: u64,
    /// Bytes read since the open quote.
    quoted_bytes: u64,
    /// Whether the last byte read ended a line.
    after_newline: bool,
    shared: Arc<ScanState>,
}

impl<R: Read> QuoteScan<R> {
    /// Scan `inner`, delimited by `delimiter`; `cr_only` turns every `\r` into `\n`.
    pub(super) fn new(inner: R, delimiter: u8, cr_only: bool) -> (Self, Arc<ScanState>) {
        let shared = Arc::new(ScanState::default());
        let scan = QuoteScan {
            inner,
            delimiter,
            cr_only,
            state: State::StartRecord,
            line: 1,
            open_line: 0,
            record_line: 1,
            quoted_bytes: 0,
            after_newline: false,
            shared: Arc::clone(&shared),
        };
        (scan, shared)
    }

    fn step(&mut self, byte: u8) {
        let (quote, delimiter, newline) = (byte == b'"', byte == self.delimiter, byte == b'\n');
        self.state = match self.state {
            State::StartRecord | State::StartField if quote => {
                self.open_line = self.line;
                self.quoted_bytes = 0;
                State::Quoted
            }
            State::StartRecord | State::StartField | State::Unquoted | State::QuoteInQuoted
                if newline =>
            {
                State::StartRecord
            }
            State::StartRecord | State::StartField | State::Unquoted | State::QuoteInQuoted
                if delimiter =>
            {
                State::StartField
            }
            State::QuoteInQuoted if quote => State::Quoted,
            State::Quoted if quote => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::StartRecord | State::StartField | State::Unquoted | State::QuoteInQuoted => {
                State::Unquoted
            }
        };
        if newline {
            self.line += 1;
        }
    }

    fn publish(&self, ended: bool) {
        let open = if self.state == State::Quoted {
            self.open_line
        } else {
            0
        };
        self.shared.open_line.store(open, Ordering::Relaxed);
        self.shared
            .record_line
            .store(self.record_line, Ordering::Relaxed);
        let last = self.line.saturating_sub(u64::from(self.after_newline));
        self.shared.line.store(last, Ordering::Relaxed);
        self.shared.ended.store(ended, Ordering::Relaxed);
    }
}

impl<R: Read> Read for QuoteScan<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let bytes = buf.get_mut(..n).unwrap_or_default();
        for byte in bytes.iter_mut() {
            if self.cr_only && *byte == b'\r' {
                *byte = b'\n';
            }
            if self.state == State::StartRecord && *byte != b'\n' {
                self.record_line = self.line;
            }
            self.step(*byte);
        }
        if let Some(&last) = bytes.last() {
            self.after_newline = last == b'\n';
        }
        if self.state == State::Quoted {
            self.quoted_bytes += n as u64;
        }
        self.publish(n == 0 && !buf.is_empty());
        if self.state == State::Quoted && self.quoted_bytes > MAX_QUOTED {
            let message = format!(
                "the quoted field that opens on line {} runs on for more than {} MiB; its \
                 closing quote is probably missing",
                self.open_line,
                MAX_QUOTED / (1024 * 1024)
            );
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(n)
    }
}
