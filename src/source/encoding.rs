//! Decides how the bytes of a delimited text file are decoded, from the first
//! [`SNIFF_BYTES`](super::csv) of the file, so that detection never reads the whole file.
//!
//! In order:
//! 1. a byte-order mark wins (UTF-8, UTF-16LE, UTF-16BE), even over `--encoding`;
//! 2. `--encoding` is used as given;
//! 3. UTF-16 without a byte-order mark is recognised by its NUL bytes: text that is mostly
//!    ASCII has a NUL in every other byte (the odd ones in UTF-16LE, the even ones in BE);
//! 4. UTF-8 when the sample is valid UTF-8, or when it is *mostly* UTF-8: it holds at least
//!    as many valid multi-byte characters as invalid bytes, or its invalid bytes lie on at
//!    most 1 line in 100. Such a file is read as UTF-8, and a row holding an invalid byte is
//!    a row error with the `--encoding` hint; the other rows go on;
//! 5. otherwise the encoding `chardetng` guesses (Windows-1252, Shift_JIS, ISO-8859-2, …;
//!    the detector Firefox uses for unlabelled text).
//!
//! Cases 3 and 5 are assumptions, and the run says so on stderr (see [`Decoding::assumed`]).

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

/// How to turn the file's bytes into UTF-8 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoding {
    /// The bytes are UTF-8 already; skip this many bytes of byte-order mark.
    Utf8 { skip: usize },
    /// Transcode: with this encoding (a byte-order mark still wins), or by the mark alone.
    Transcode(Option<&'static Encoding>),
    /// Transcode with an encoding that was detected, not given: say so.
    Detected(&'static Encoding, Evidence),
}

/// Why an encoding was assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Evidence {
    /// UTF-16 recognised by the NUL bytes of mostly-ASCII text.
    NulBytes,
    /// The text is not UTF-8; the detector's guess.
    Guessed,
}

impl Decoding {
    /// What to tell the user about an assumed encoding, if one was assumed.
    pub(super) fn assumed(&self) -> Option<String> {
        let Decoding::Detected(encoding, evidence) = self else {
            return None;
        };
        let why = match evidence {
            Evidence::NulBytes => "UTF-16 without a byte-order mark, recognised by its NUL bytes",
            Evidence::Guessed => "the file is not UTF-8; detected",
        };
        Some(format!(
            "read as {} ({why}); pass --encoding to read it otherwise",
            encoding.name()
        ))
    }
}

/// Decide the decoding of a file that starts with `head`, given `--encoding`.
pub(super) fn decide(head: &[u8], given: Option<&'static Encoding>) -> Decoding {
    match (head, given) {
        ([0xEF, 0xBB, 0xBF, ..], None) => Decoding::Utf8 { skip: 3 },
        ([0xFF, 0xFE, ..] | [0xFE, 0xFF, ..], _) | (_, Some(_)) => Decoding::Transcode(given),
        _ => {
            if let Some(utf16) = utf16_without_bom(head) {
                Decoding::Detected(utf16, Evidence::NulBytes)
            } else if mostly_utf8(head) {
                Decoding::Utf8 { skip: 0 }
            } else {
                Decoding::Detected(guess(head), Evidence::Guessed)
            }
        }
    }
}

/// UTF-16LE or BE, when a NUL is in at least a quarter of the odd (LE) or even (BE) bytes of
/// the first 512 and almost never in the others. UTF-8 text has no NUL bytes.
fn utf16_without_bom(head: &[u8]) -> Option<&'static Encoding> {
    let sample = head.get(..head.len().min(512)).unwrap_or_default();
    let pairs = sample.chunks_exact(2);
    let total = pairs.len();
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in pairs {
        even += usize::from(pair.first() == Some(&0));
        odd += usize::from(pair.get(1) == Some(&0));
    }
    let clear = |many: usize, few: usize| total >= 2 && many * 4 >= total && few * 8 <= many;
    if clear(odd, even) {
        Some(UTF_16LE)
    } else if clear(even, odd) {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// Whether `head` is UTF-8, perhaps with a few bad bytes (see the module docs). A sequence
/// cut off by the end of the sample counts as valid.
fn mostly_utf8(head: &[u8]) -> bool {
    let (mut valid, mut invalid, mut bad_lines) = (0usize, 0usize, 0usize);
    let mut last_bad_line = None;
    let mut rest = head;
    let mut line = 1usize;
    loop {
        let (good, error) = match std::str::from_utf8(rest) {
            Ok(text) => (text.as_bytes(), None),
            Err(e) => (rest.get(..e.valid_up_to()).unwrap_or_default(), Some(e)),
        };
        valid += good.iter().filter(|&&b| b >= 0xC0).count();
        line += good.iter().filter(|&&b| b == b'\n').count();
        let Some(bad) = error.and_then(|e| e.error_len()) else {
            break;
        };
        invalid += 1;
        if last_bad_line != Some(line) {
            bad_lines += 1;
            last_bad_line = Some(line);
        }
        rest = rest.get(good.len() + bad..).unwrap_or_default();
    }
    invalid == 0 || valid >= invalid || bad_lines * 100 <= line
}

/// The detector's guess for text that is not UTF-8.
fn guess(head: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, false);
    detector.guess(None, chardetng::Utf8Detection::Deny)
}
