//! Reads Dataverse Web API JSON: one response file, or a directory of pages (one file per
//! `@odata.nextLink` page, read in natural name order so `page2` comes before `page10`).
//!
//! A reader thread parses the pages and hands finished rows over a bounded channel, so memory
//! stays flat however large a page is. Row numbers are the 1-based record number within the
//! page file, and every row names its page. A page that is not JSON at all fails `open`; a
//! page that breaks off part-way yields the rows before the break, then one row error with
//! the line and column, and reading goes on with the next page.
//!
//! Field naming and value types are described in [`super::json`].

use std::cmp::Ordering;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::json::{RawRecord, STOPPED, flatten, stream_records};
use super::{Cell, Headers, Meter, Row, RowError, RowSource, SourceError, SourceOptions};

/// Rows handed over at a time (fewer hand-overs between the threads).
const BATCH: usize = 64;
/// Batches parsed ahead of the reader: at most `BATCH * AHEAD` rows wait in memory.
const AHEAD: usize = 8;

/// A page that could not be parsed.
struct Failure {
    file: Arc<PathBuf>,
    /// The record number the failure stopped.
    record: u64,
    /// Line and column in the page, when the failure is the parser's.
    at: Option<(u64, u64)>,
    message: String,
    truncated: bool,
}

type Message = Result<Row, Failure>;

/// A stream of records from one response file or a directory of pages.
pub struct DataverseSource {
    path: PathBuf,
    batches: Receiver<Vec<Message>>,
    batch: std::vec::IntoIter<Message>,
    first_headers: Option<Arc<Headers>>,
}

impl DataverseSource {
    /// List and check the pages, start the reader thread and read the first record (so a
    /// file that is not a Dataverse response fails here).
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let pages = pages(path)?;
        let (sender, batches) = sync_channel(AHEAD);
        let meter = opts.meter.clone();
        std::thread::Builder::new()
            .name("dataverse-pages".to_owned())
            .spawn(move || read_pages(&pages, Batcher::new(sender), meter.as_ref()))
            .map_err(|source| SourceError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let mut batch = batches.recv().unwrap_or_default().into_iter();
        if matches!(batch.as_slice().first(), Some(Err(f)) if f.record == 1)
            && let Some(Err(failure)) = batch.next()
        {
            return Err(failure.into_source_error());
        }
        let first_headers = match batch.as_slice().first() {
            Some(Ok(row)) => Some(Arc::clone(&row.headers)),
            _ => None,
        };
        Ok(DataverseSource {
            path: path.to_path_buf(),
            batches,
            batch,
            first_headers,
        })
    }
}

impl Failure {
    fn into_source_error(self) -> SourceError {
        let path = self.file.as_ref().clone();
        match self.at {
            Some((line, _)) if self.truncated => SourceError::Truncated {
                path,
                line: Some(line),
                detail: self.message,
            },
            Some((line, column)) => SourceError::Json {
                path,
                line,
                column,
                message: self.message,
            },
            None => SourceError::Unreadable {
                path,
                message: format!("record {}: {}", self.record, self.message),
            },
        }
    }

    fn into_row_error(self) -> RowError {
        RowError {
            file: self.file,
            row: self.record,
            column: None,
            message: match self.at {
                Some((line, column)) => format!("line {line}, column {column}: {}", self.message),
                None => self.message,
            },
        }
    }
}

impl Iterator for DataverseSource {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(message) = self.batch.next() {
                return Some(message.map_err(Failure::into_row_error));
            }
            self.batch = self.batches.recv().ok()?.into_iter();
        }
    }
}

impl RowSource for DataverseSource {
    fn path(&self) -> &Path {
        &self.path
    }
    /// The fields of the first record (later records may have more or fewer).
    fn headers(&self) -> Option<Arc<Headers>> {
        self.first_headers.clone()
    }
}

/// The page files of `path`: the file itself, or a directory's `.json` files in natural order.
fn pages(path: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Io { path, source }
    };
    if !path.is_dir() {
        File::open(path).map_err(io_err(path))?;
        return Ok(vec![path.to_path_buf()]);
    }
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_err(path))? {
        let entry = entry.map_err(io_err(path))?;
        let file = entry.path();
        let json = file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if json && !hidden && file.is_file() {
            File::open(&file).map_err(io_err(&file))?;
            pages.push(file);
        }
    }
    if pages.is_empty() {
        return Err(SourceError::EmptyDirectory {
            path: path.to_path_buf(),
        });
    }
    pages.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    Ok(pages)
}

/// Collects rows into batches for the reading side.
struct Batcher {
    sender: SyncSender<Vec<Message>>,
    batch: Vec<Message>,
}

impl Batcher {
    fn new(sender: SyncSender<Vec<Message>>) -> Self {
        Batcher {
            sender,
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// Queue a row; `false` when nobody reads any more.
    fn send(&mut self, message: Message) -> bool {
        self.batch.push(message);
        self.batch.len() < BATCH || self.flush()
    }

    /// Hand over the rows queued so far; `false` when nobody reads any more.
    fn flush(&mut self) -> bool {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        batch.is_empty() || self.sender.send(batch).is_ok()
    }
}

/// The reader thread: parse every page in turn; stop when the rows are no longer wanted.
fn read_pages(pages: &[PathBuf], mut sender: Batcher, meter: Option<&Arc<Meter>>) {
    for page in pages {
        if !read_page(page, &mut sender, meter) {
            return;
        }
    }
    sender.flush();
}

/// Parse one page; `false` when the receiver is gone.
fn read_page(page: &Path, sender: &mut Batcher, meter: Option<&Arc<Meter>>) -> bool {
    let file = Arc::new(page.to_path_buf());
    let input = match File::open(page) {
        Ok(file) => {
            let file: Box<dyn std::io::Read + Send> = Box::new(file);
            let counted = match meter {
                Some(meter) => meter.wrap(file),
                None => file,
            };
            BufReader::with_capacity(64 * 1024, counted)
        }
        Err(e) => {
            let failure = Failure {
                file,
                record: 1,
                at: None,
                message: format!("cannot read: {e}"),
                truncated: false,
            };
            return sender.send(Err(failure));
        }
    };
    let mut builder = RowBuilder::new(Arc::clone(&file));
    let mut open = true;
    let mut emit = |record: RawRecord| {
        open = sender.send(builder.row(&record));
        open
    };
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let result = stream_records(&mut deserializer, &mut emit).and_then(|()| deserializer.end());
    let record = builder.count + 1;
    match result {
        Ok(()) => open,
        Err(_) if !open => false,
        Err(e) if e.to_string().starts_with(STOPPED) => false,
        Err(e) => {
            let failure = Failure {
                file,
                record,
                at: Some((e.line() as u64, e.column() as u64)),
                message: without_location(&e),
                truncated: e.is_eof(),
            };
            sender.send(Err(failure))
        }
    }
}

/// serde_json's message without its ` at line L column C` tail (the location is kept apart).
fn without_location(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let tail = format!(" at line {} column {}", err.line(), err.column());
    text.strip_suffix(&tail).unwrap_or(&text).to_owned()
}

/// Builds rows of one page, sharing one `Arc<Headers>` while the fields stay the same.
struct RowBuilder {
    file: Arc<PathBuf>,
    headers: Arc<Headers>,
    count: u64,
    fields: Vec<(String, Cell)>,
}

impl RowBuilder {
    fn new(file: Arc<PathBuf>) -> Self {
        RowBuilder {
            file,
            headers: Arc::new(Headers::default()),
            count: 0,
            fields: Vec::new(),
        }
    }

    /// The row of the next record, or why the record cannot be one (nested too deep).
    fn row(&mut self, record: &RawRecord) -> Message {
        self.count += 1;
        self.fields.clear();
        if let Err(message) = flatten(record, &mut self.fields) {
            return Err(Failure {
                file: Arc::clone(&self.file),
                record: self.count,
                at: None,
                message,
                truncated: false,
            });
        }
        let same = self.headers.names().len() == self.fields.len()
            && self
                .headers
                .names()
                .iter()
                .zip(&self.fields)
                .all(|(a, (b, _))| a == b);
        if !same {
            let names = self.fields.iter().map(|(n, _)| n.clone()).collect();
            self.headers = Arc::new(Headers::new(names));
        }
        Ok(Row {
            file: Arc::clone(&self.file),
            row: self.count,
            headers: Arc::clone(&self.headers),
            values: self.fields.drain(..).map(|(_, cell)| cell).collect(),
            text: String::new(),
        })
    }
}

/// Compare names so that runs of digits compare as numbers: `page2` < `page10`.
pub(super) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(ca), Some(cb)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        let order = if ca.is_ascii_digit() && cb.is_ascii_digit() {
            let (da, ra) = split_digits(a);
            let (db, rb) = split_digits(b);
            a = ra;
            b = rb;
            let (ta, tb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            a = a.get(ca.len_utf8()..).unwrap_or_default();
            b = b.get(cb.len_utf8()..).unwrap_or_default();
            ca.cmp(&cb)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}
