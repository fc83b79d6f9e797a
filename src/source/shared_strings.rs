//! Checks what an xlsx workbook's shared-string table claims before calamine believes it.
//!
//! calamine reserves room for as many strings as `<sst uniqueCount="…">` says, before it
//! reads one: a workbook of a few kilobytes claiming a billion strings asks for 24 GB and
//! aborts the process. A string takes at least 13 bytes of the part (`<si><t/></si>`), and
//! deflate never expands data more than about 1032 times, so a claim the part cannot hold
//! is refused here with an error naming the file and the part, and nothing is allocated.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::SourceError;

/// The fewest bytes one shared string takes in the XML part: `<si><t/></si>`.
const MIN_STRING_BYTES: u64 = 13;
/// More than deflate's largest expansion (about 1032:1): a larger size is a lie.
const MAX_EXPANSION: u64 = 1100;
/// How much of the part is read to find the `<sst>` tag.
const HEAD_BYTES: u64 = 4096;

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
    let Ok(part) = zip.by_name(&name) else {
        return Ok(());
    };
    let (size, compressed) = (part.size(), part.compressed_size());
    let mut head = Vec::new();
    if part.take(HEAD_BYTES).read_to_end(&mut head).is_err() {
        return Ok(());
    }
    let Some(claimed) = unique_count(&head) else {
        return Ok(());
    };
    let size = size.min(compressed.saturating_mul(MAX_EXPANSION).max(HEAD_BYTES));
    let room = size / MIN_STRING_BYTES;
    if claimed > room {
        return Err(SourceError::Workbook {
            path: path.to_path_buf(),
            message: format!(
                "{name} claims {claimed} shared strings, but its {size} bytes hold at most \
                 {room}; the workbook is corrupt or hostile (save it again from Excel)"
            ),
        });
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
