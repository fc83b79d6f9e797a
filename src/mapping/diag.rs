//! Located diagnostics of a mapping file: every problem as `file:line:col: message`, all of
//! them reported in one run.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem, located in a mapping file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

/// Every problem found in a mapping file, each located as `file:line:col: message`.
#[derive(Debug, Clone, Default, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// The messages without their locations (handy in tests).
    pub fn messages(&self) -> Vec<&str> {
        self.0.iter().map(|d| d.message.as_str()).collect()
    }
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// Turns byte spans of one file's text into located diagnostics.
#[derive(Debug)]
pub struct Collector<'a> {
    file: &'a Path,
    text: &'a str,
    pub items: Vec<Diagnostic>,
}

impl<'a> Collector<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Collector {
            file,
            text,
            items: Vec::new(),
        }
    }

    /// The line and column of a byte offset (clamped to the text).
    pub fn pos(&self, span: Option<Range<usize>>) -> Pos {
        let offset = span.map_or(0, |s| s.start).min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Pos { line, col }
    }

    pub fn at(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let pos = self.pos(span);
        self.at_pos(pos, message);
    }

    pub fn at_pos(&mut self, pos: Pos, message: impl Into<String>) {
        self.items.push(Diagnostic {
            file: self.file.to_path_buf(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        });
    }
}
