//! Helpers shared by the fuzz targets: the readers take paths, so each input is written to a
//! file in a per-process directory and read back through the public `source::open`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use referral_sync::source::{self, SourceOptions};

/// A directory of this process's own, created once.
pub fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("referral-sync-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fuzz: cannot create the work directory");
        dir
    })
}

/// Write `data` to `input.<extension>` in the work directory.
pub fn write_input(extension: &str, data: &[u8]) -> PathBuf {
    let path = work_dir().join(format!("input.{extension}"));
    std::fs::write(&path, data).expect("fuzz: cannot write the input file");
    path
}

/// Open `path` and read every row; open errors and row errors are fine, panics are not.
pub fn drain(path: &Path, opts: &SourceOptions) {
    if let Ok(rows) = source::open(path, opts) {
        for row in rows.take(100_000) {
            if let Ok(row) = row {
                // Every text cell must read back from its row, on character boundaries.
                for cell in &row.values {
                    if matches!(cell, source::Cell::Span { .. }) {
                        assert!(row.text_of(cell).is_some(), "a span outside its row's text");
                    }
                }
            }
        }
    }
}
