//! Opens inputs: picks the reader for each path by extension and content, and chains several
//! inputs into one stream of rows, in the order given (every row keeps its own file).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::csv::CsvSource;
use super::dataverse::DataverseSource;
use super::excel::ExcelSource;
use super::{Headers, Row, RowError, RowSource, SourceError, SourceOptions};

/// The reader a path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Excel,
    Dataverse,
}

/// Open one input. By extension: `.csv`, `.tsv`, `.txt` are delimited text; `.xlsx`, `.xlsm`,
/// `.xlsb`, `.xls`, `.ods` are workbooks; `.json` and directories are Dataverse Web API
/// responses. Other paths are recognised by their first bytes: a zip or OLE file is a
/// workbook, text starting with `{` or `[` is JSON, anything else is delimited text.
pub fn open(path: &Path, opts: &SourceOptions) -> Result<Box<dyn RowSource>, SourceError> {
    match detect(path)? {
        Format::Csv => Ok(Box::new(CsvSource::open(path, opts)?)),
        Format::Excel => Ok(Box::new(ExcelSource::open(path, opts)?)),
        Format::Dataverse => Ok(Box::new(DataverseSource::open(path, opts)?)),
    }
}

/// Open several inputs and read them one after the other, in the order given. Every input
/// is opened (and its header read) before this returns, so a missing file or a bad header in
/// the last input fails before any row is read.
pub fn open_all(
    paths: &[PathBuf],
    opts: &SourceOptions,
) -> Result<Box<dyn RowSource>, SourceError> {
    let mut sources = VecDeque::with_capacity(paths.len());
    for path in paths {
        sources.push_back(open(path, opts)?);
    }
    match sources.len() {
        1 => sources.pop_front().ok_or_else(|| unreachable_empty(paths)),
        _ => Ok(Box::new(Chain {
            sources,
            first: paths.first().cloned().unwrap_or_default(),
        })),
    }
}

fn unreachable_empty(paths: &[PathBuf]) -> SourceError {
    SourceError::Unreadable {
        path: paths.first().cloned().unwrap_or_default(),
        message: "no input".to_owned(),
    }
}

fn detect(path: &Path) -> Result<Format, SourceError> {
    let io_err = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io_err)?;
    if metadata.is_dir() {
        return Ok(Format::Dataverse);
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv" | "tsv" | "tab" | "txt") => return Ok(Format::Csv),
        Some("xlsx" | "xlsm" | "xlam" | "xlsb" | "xls" | "xla" | "ods") => {
            return Ok(Format::Excel);
        }
        Some("json") => return Ok(Format::Dataverse),
        _ => {}
    }
    let mut head = [0u8; 64];
    let mut file = File::open(path).map_err(io_err)?;
    let read = file.read(&mut head).map_err(io_err)?;
    Ok(sniff(head.get(..read).unwrap_or_default()))
}

/// The format of a file with an unknown extension, from its first bytes.
fn sniff(head: &[u8]) -> Format {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Format::Excel;
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Format::Dataverse,
        _ => Format::Csv,
    }
}

/// Several sources read in turn.
struct Chain {
    sources: VecDeque<Box<dyn RowSource>>,
    first: PathBuf,
}

impl Iterator for Chain {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let source = self.sources.front_mut()?;
            match source.next() {
                Some(item) => return Some(item),
                None => {
                    self.sources.pop_front();
                }
            }
        }
    }
}

impl RowSource for Chain {
    /// The file being read now (the first one before reading starts and after the end).
    fn path(&self) -> &Path {
        self.sources.front().map_or(&self.first, |s| s.path())
    }
    fn headers(&self) -> Option<Arc<Headers>> {
        self.sources.front().and_then(|s| s.headers())
    }
}
