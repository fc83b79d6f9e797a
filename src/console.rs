//! Lines for the terminal that never panic.
//!
//! `println!` and `eprintln!` panic when their stream cannot be written: a cron job's log on a
//! full disk, or `| head` closing stdout early. A run that did its work must not end in a
//! panic over a message, so every line the commands print goes through here: messages on
//! stderr are dropped when stderr cannot take them, and a closed stdout pipe ends the output
//! quietly, as command-line tools do.

use std::fmt::Display;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::Error;

/// Write a line to stderr; if stderr cannot be written there is nowhere left to say so, and
/// the line is dropped.
pub fn note(line: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Write a line to stdout: `Ok(true)` when written, `Ok(false)` when the reader has closed
/// the pipe (stop writing, nothing is wrong), an error naming stdout otherwise.
pub fn say(line: impl Display) -> Result<bool, Error> {
    say_to(&mut io::stdout().lock(), line)
}

/// [`say`] to any writer.
pub fn say_to(out: &mut impl Write, line: impl Display) -> Result<bool, Error> {
    match writeln!(out, "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(source) => Err(Error::Io {
            path: PathBuf::from("<stdout>"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};

    use super::say_to;

    struct Closed(io::ErrorKind);

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_stops_output_and_other_failures_name_stdout() {
        let mut out = Vec::new();
        assert!(say_to(&mut out, "a\tb").unwrap_or(false));
        assert_eq!(out, b"a\tb\n");
        let closed = say_to(&mut Closed(io::ErrorKind::BrokenPipe), "x");
        assert!(matches!(closed, Ok(false)));
        let full = say_to(&mut Closed(io::ErrorKind::StorageFull), "x");
        let text = full.map_or_else(|e| e.to_string(), |_| String::new());
        assert!(text.contains("<stdout>"), "{text}");
    }
}
