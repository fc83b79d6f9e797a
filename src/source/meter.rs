//! How far through its inputs a run is: bytes read of the total for delimited text and JSON
//! pages (a counting reader under the parser), or rows only for workbooks, whose position in
//! the file a streaming reader cannot know. The progress display reads it while the run goes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes read so far and the inputs' total size; shared by the readers and the display.
#[derive(Debug, Default)]
pub struct Meter {
    read: AtomicU64,
    /// The inputs' total size in bytes; 0 when it is not known (a workbook among them).
    total: u64,
}

/// The workbook extensions: their progress is counted in rows, not bytes.
const WORKBOOKS: &[&str] = &["xlsx", "xlsm", "xlam", "xlsb", "xls", "xla", "ods"];

impl Meter {
    /// A meter for these inputs: their total size, or unknown when one is a workbook.
    pub fn for_inputs(paths: &[PathBuf]) -> Arc<Meter> {
        let mut total = 0u64;
        for path in paths {
            match size(path) {
                Some(bytes) => total = total.saturating_add(bytes),
                None => return Arc::new(Meter::default()),
            }
        }
        Arc::new(Meter {
            read: AtomicU64::new(0),
            total,
        })
    }

    /// Bytes read so far (never more than the total, when it is known) and the total.
    pub fn bytes(&self) -> (u64, Option<u64>) {
        let read = self.read.load(Ordering::Relaxed);
        match self.total {
            0 => (read, None),
            total => (read.min(total), Some(total)),
        }
    }

    /// Count what `input` yields.
    pub fn wrap(self: &Arc<Self>, input: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        Box::new(Counting {
            input,
            meter: Arc::clone(self),
        })
    }
}

/// The size of an input in bytes (a directory: its JSON pages); `None` for a workbook.
fn size(path: &Path) -> Option<u64> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    if WORKBOOKS.contains(&extension.to_ascii_lowercase().as_str()) {
        return None;
    }
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_dir() {
        return Some(metadata.len());
    }
    let pages = std::fs::read_dir(path).ok()?.flatten();
    Some(
        pages
            .filter(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x.eq_ignore_ascii_case("json"))
            })
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum(),
    )
}

/// A reader that adds what it reads to a meter.
struct Counting {
    input: Box<dyn Read + Send>,
    meter: Arc<Meter>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.meter.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
