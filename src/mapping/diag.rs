//! Located diagnostics of a mapping file: every problem as `file:line:col: message`, all of
//! them reported in one run, each keeping the line of source it points at so that it can be
//! shown with a caret under the span (see `render`).

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
    /// The source line the problem is on, with the span to underline; `None` when the
    /// problem has no place in the file (a missing section, an unreadable file).
    pub frame: Option<Frame>,
}

/// One line of a mapping file and the span of a diagnostic on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The line, without its line ending.
    pub text: String,
    /// Byte range of the span within `text` (empty for a point, such as a missing quote).
    pub span: Range<usize>,
}

/// Where a diagnostic points: its position and the frame to show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Site {
    pub pos: Pos,
    pub frame: Option<Frame>,
}

impl Diagnostic {
    /// A diagnostic of `file` at `site`.
    pub fn new(file: &Path, site: Site, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: site.pos.line,
            col: site.pos.col,
            message: message.into(),
            frame: site.frame,
        }
    }
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
    /// Not errors: the mapping loads, and each is printed once (see `Mapping::warnings`).
    pub warnings: Vec<Diagnostic>,
}

impl<'a> Collector<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Collector {
            file,
            text,
            items: Vec::new(),
            warnings: Vec::new(),
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

    /// The position of a span and its line of source.
    pub fn site(&self, span: Option<Range<usize>>) -> Site {
        Site {
            pos: self.pos(span.clone()),
            frame: span.and_then(|s| frame(self.text, s)),
        }
    }

    pub fn at(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let site = self.site(span);
        self.items.push(Diagnostic::new(self.file, site, message));
    }

    /// A warning at a span: the mapping still loads.
    pub fn warn(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let site = self.site(span);
        self.warnings
            .push(Diagnostic::new(self.file, site, message));
    }
}

/// The line of `text` that `span` starts on, with the part of the span on that line.
fn frame(text: &str, span: Range<usize>) -> Option<Frame> {
    let start = span.start.min(text.len());
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text
        .get(start..)?
        .find('\n')
        .map_or(text.len(), |i| start + i);
    let line = text.get(line_start..line_end)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let from = (start - line_start).min(line.len());
    let to = span
        .end
        .saturating_sub(line_start)
        .min(line.len())
        .max(from);
    Some(Frame {
        text: line.to_string(),
        span: from..to,
    })
}
