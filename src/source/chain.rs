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

/// Open several inputs and read them one after the other, in the order given.
///
/// Every input is opened and its header read before this returns, so a missing file or a
/// bad header in the last input fails before any row is read. To keep memory to one input
/// at a time, inputs after the first are then closed and opened again when their turn
/// comes (a workbook is parsed twice); if one has become unreadable meanwhile, that shows
/// as a row error and reading goes on with the next.
pub fn open_all(
    paths: &[PathBuf],
    opts: &SourceOptions,
) -> Result<Box<dyn RowSource>, SourceError> {
    let mut first = None;
    for path in paths {
        let source = open(path, opts)?;
        first.get_or_insert(source);
    }
    let rest: VecDeque<PathBuf> = paths.iter().skip(1).cloned().collect();
    match first {
        Some(only) if rest.is_empty() => Ok(only),
        current => Ok(Box::new(Chain {
            path: paths.first().cloned().unwrap_or_default(),
            current,
            rest,
            opts: opts.clone(),
        })),
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

/// Several inputs read in turn.
struct Chain {
    /// The input being read (the first one before reading starts).
    path: PathBuf,
    current: Option<Box<dyn RowSource>>,
    rest: VecDeque<PathBuf>,
    opts: SourceOptions,
}

impl Iterator for Chain {
    type Item = Result<Row, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.as_mut().and_then(|source| source.next()) {
                return Some(item);
            }
            self.current = None;
            self.path = self.rest.pop_front()?;
            match open(&self.path, &self.opts) {
                Ok(source) => self.current = Some(source),
                Err(e) => {
                    return Some(Err(RowError {
                        file: Arc::new(self.path.clone()),
                        row: 0,
                        column: None,
                        message: format!("cannot read this input any more: {e}"),
                    }));
                }
            }
        }
    }
}

impl RowSource for Chain {
    fn path(&self) -> &Path {
        &self.path
    }
    fn headers(&self) -> Option<Arc<Headers>> {
        self.current.as_ref().and_then(|s| s.headers())
    }
    fn recycle(&mut self, row: Row) {
        if let Some(current) = &mut self.current {
            current.recycle(row);
        }
    }
}
