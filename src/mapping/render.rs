//! Mapping diagnostics shown to people and to programs.
//!
//! For people, each problem is `file:line:col: message` (the first line, so that editors and
//! grep keep finding it) followed by the line of the mapping file with a caret under the span,
//! as rustc shows it; the frame is drawn by annotate-snippets, the renderer rustc and cargo
//! use, which measures tabs and wide characters so the caret lands under the right column.
//! For programs (`--log-format json`), each problem is one JSON object on a line, with the
//! file, line, column and message and no colour.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde_json::{Value, json};

use super::diag::{Diagnostic, Diagnostics};

impl Diagnostic {
    /// `file:line:col: message`, then the source line with a caret under the span (when the
    /// problem has a place); ANSI colours only when `color`.
    pub fn render(&self, color: bool) -> String {
        let mut out = self.to_string();
        if let Some(frame) = &self.frame {
            let renderer = if color {
                Renderer::styled()
            } else {
                Renderer::plain()
            };
            let snippet = Snippet::source(frame.text.as_str())
                .line_start(self.line)
                .fold(false)
                .annotation(AnnotationKind::Primary.span(frame.span.clone()));
            let report = [Group::with_level(Level::ERROR).element(snippet)];
            out.push('\n');
            out.push_str(renderer.render(&report).trim_end());
        }
        out
    }

    /// The problem as one JSON object: level, file, line, col and message.
    pub fn to_json(&self) -> Value {
        json!({
            "level": "ERROR",
            "file": self.file.display().to_string(),
            "line": self.line,
            "col": self.col,
            "message": self.message,
        })
    }
}

impl Diagnostics {
    /// Every problem for a person, each with its frame, and a closing count.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for d in &self.0 {
            out.push_str(&d.render(color));
            out.push_str("\n\n");
        }
        let n = self.0.len();
        let file = self.0.first().map(|d| d.file.display().to_string());
        out.push_str(&format!(
            "error: {n} problem{} in the mapping {}",
            if n == 1 { "" } else { "s" },
            file.unwrap_or_default()
        ));
        out
    }

    /// Every problem as a JSON line.
    pub fn to_json_lines(&self) -> String {
        let lines: Vec<String> = self.0.iter().map(|d| d.to_json().to_string()).collect();
        lines.join("\n")
    }
}
