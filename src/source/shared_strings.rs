//! Checks what an xlsx workbook's shared-string table claims before calamine believes it.
//!
//! calamine reserves room for as many strings as `<sst uniqueCount="…">` says, before it
//! reads one: a workbook of a few kilobytes claiming a billion strings asks for 24 GB and
//! aborts the process. A string takes at least 13 bytes of the part (`<si><t/></si>`), and
//! deflate never expands data more than about 1032 times, so a claim the part cannot hold
//! is refused here with an error naming the file and the part, and nothing is allocated.
//!
//! calamine also loads every string whole: one string of a gigabyte (a few kilobytes when
//! compressed) is held in memory. A cell holds at most 32,767 characters, so the part is
//! streamed once here and a string longer than [`MAX_STRING_BYTES`] of XML is refused too.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::SourceError;

/// The fewest bytes one shared string takes in the XML part: `<si><t/></si>`.
const MIN_STRING_BYTES: u64 = 13;
/// More than deflate's largest expansion (about 1032:1): a larger size is a lie.
const MAX_EXPANSION: u64 = 1100;
/// How much of the part is read to find the `<sst>` tag.
const HEAD_BYTES: u64 = 4096;
/// The most XML one shared string may take: 32,767 characters of up to 4 bytes each, with
/// room for rich-text runs and their formatting.
const MAX_STRING_BYTES: u64 = 1024 * 1024;

/// Refuse an xlsx whose shared-string table claims more strings than it can hold. Files
/// that are not zip archives, or have no such table, are left to calamine.
pub(super) fn check(path: &Path) -> Result<(), SourceError> {
    let Ok(file) = File::open(path) else {
        return Ok(());
    };
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return Ok(());
    };
    let Some(name) = zip
        .file_names()
        .filter_map(Result::ok)
        .find(|n| n.to_ascii_lowercase().ends_with("sharedstrings.xml"))
        .map(|n| n.into_owned())
    else {
        return Ok(());
    };
    let Ok(mut part) = zip.by_name(&name) else {
        return Ok(());
    };
    let (size, compressed) = (part.size(), part.compressed_size());
    let mut head = Vec::new();
    if (&mut part).take(HEAD_BYTES).read_to_end(&mut head).is_err() {
        return Ok(());
    }
    let refuse = |message: String| SourceError::Workbook {
        path: path.to_path_buf(),
        message,
    };
    if let Ok(Some((number, bytes))) = longest_string(io::Cursor::new(head.as_slice()).chain(part))
    {
        return Err(refuse(format!(
            "{name}: shared string {number} takes more than {bytes} bytes, but a cell holds \
             at most 32,767 characters; the workbook is corrupt or hostile"
        )));
    }
    let Some(claimed) = unique_count(&head) else {
        return Ok(());
    };
    let size = size.min(compressed.saturating_mul(MAX_EXPANSION).max(HEAD_BYTES));
    let room = size / MIN_STRING_BYTES;
    if claimed > room {
        return Err(refuse(format!(
            "{name} claims {claimed} shared strings, but its {size} bytes hold at most \
             {room}; the workbook is corrupt or hostile (save it again from Excel)"
        )));
    }
    Ok(())
}

/// The number in `uniqueCount="N"` of the `<sst>` start tag, when it is one calamine would
/// reserve room for.
fn unique_count(head: &[u8]) -> Option<u64> {
    const ATTR: &[u8] = b"uniqueCount=\"";
    let at = head.windows(ATTR.len()).position(|w| w == ATTR)? + ATTR.len();
    let digits = head.get(at..)?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(digits.get(..end)?).ok()?.parse().ok()
}

/// The first shared string (1-based) longer than [`MAX_STRING_BYTES`] of XML, and that
/// limit; `None` when every string is within it. Strings are told apart by their `<si>` and
/// `</si>` tags (with or without a namespace prefix); the part is read in chunks.
fn longest_string(mut part: impl Read) -> io::Result<Option<(u64, u64)>> {
    let mut chunk = vec![0u8; 64 * 1024];
    // The last 3 bytes of the previous chunk, so that a tag cut in two is still seen.
    let mut window: Vec<u8> = Vec::with_capacity(chunk.len() + 3);
    let (mut offset, mut last_tag, mut closed) = (0u64, 0u64, 0u64);
    loop {
        let n = part.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        let carried = window.len() as u64;
        window.extend_from_slice(chunk.get(..n).unwrap_or_default());
        for (i, w) in window.windows(4).enumerate() {
            let tag = matches!(w, [b'<' | b'/' | b':', b's', b'i', b'>' | b' ']);
            if tag {
                let at = offset + i as u64 - carried;
                closed += u64::from(w.first() == Some(&b'/'));
                last_tag = at;
            }
        }
        offset += n as u64;
        if offset - last_tag > MAX_STRING_BYTES {
            return Ok(Some((closed + 1, MAX_STRING_BYTES)));
        }
        let keep = window.len().saturating_sub(3);
        window.drain(..keep);
    }
}
