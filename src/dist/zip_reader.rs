//! Reading a zip archive (wheels and `.zip` sdists) without trusting it: the structure and every
//! entry's header checked before any content is read (names, encryption, compression method,
//! declared sizes and ratios), and capped streaming of an entry's content with its CRC and
//! declared size checked.

use std::io::{self, Read, Seek};

use zip::{CompressionMethod, ZipArchive};

use super::error::{DistErrorReason, escape};

/// Cap on METADATA, WHEEL and PKG-INFO, decompressed.
pub const MAX_METADATA_SIZE: u64 = 16 << 20;
/// Cap on RECORD, decompressed.
pub const MAX_RECORD_SIZE: u64 = 64 << 20;
/// Cap on the uncompressed size of all entries together, as declared by the archive.
pub const MAX_TOTAL_UNCOMPRESSED: u64 = 8 << 30;
/// Highest declared uncompressed:compressed ratio accepted for an entry above
/// [`RATIO_CHECK_MIN_SIZE`].
pub const MAX_COMPRESSION_RATIO: u64 = 2_000;
/// Entries up to this size are not ratio-checked (tiny files of zeros compress absurdly well).
pub const RATIO_CHECK_MIN_SIZE: u64 = 1 << 20;

/// One zip entry, as its central directory describes it.
#[derive(Debug)]
pub(super) struct ZipEntry {
    index: usize,
    pub(super) name: String,
    pub(super) is_dir: bool,
    pub(super) size: u64,
}

/// Opens a zip and checks its structure and every entry's header, reading no content.
pub(super) fn open_zip<R: Read + Seek>(
    reader: R,
) -> Result<(ZipArchive<R>, Vec<ZipEntry>), DistErrorReason> {
    let mut zip = ZipArchive::new(reader).map_err(DistErrorReason::NotAZip)?;
    if zip.has_duplicate_names() {
        return Err(DistErrorReason::DuplicateEntryNames);
    }
    // Local headers that disagree with the central directory, overlapping entries and
    // hidden local headers all let two zip readers see different files.
    zip.validate_header_consistency()
        .map_err(DistErrorReason::InconsistentZip)?;

    let mut entries = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for index in 0..zip.len() {
        let entry = zip.by_index_data(index).map_err(DistErrorReason::NotAZip)?;
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(_) => {
                return Err(DistErrorReason::UnsafeEntryName {
                    name: escape(&String::from_utf8_lossy(entry.name_raw())),
                    problem: "is not valid UTF-8",
                });
            }
        };
        if let Some(problem) = entry_name_problem(&name) {
            return Err(DistErrorReason::UnsafeEntryName {
                name: escape(&name),
                problem,
            });
        }
        let is_dir = entry.is_dir();
        if entry.encrypted() {
            return Err(DistErrorReason::EncryptedEntry {
                name: escape(&name),
            });
        }
        let method = entry.compression();
        if !matches!(
            method,
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(DistErrorReason::UnsupportedCompression {
                name: escape(&name),
                method: format!("{method:?}"),
            });
        }
        let size = entry.size();
        let compressed = entry.compressed_size();
        if size > RATIO_CHECK_MIN_SIZE && size / compressed.max(1) > MAX_COMPRESSION_RATIO {
            return Err(DistErrorReason::SuspiciousCompressionRatio {
                name: escape(&name),
                size,
                compressed,
            });
        }
        total = total.saturating_add(size);
        if total > MAX_TOTAL_UNCOMPRESSED {
            return Err(DistErrorReason::TooMuchData {
                total: declared_total(&zip),
                limit: MAX_TOTAL_UNCOMPRESSED,
            });
        }
        entries.push(ZipEntry {
            index,
            name,
            is_dir,
            size,
        });
    }
    Ok((zip, entries))
}

/// The sum of every entry's declared size, for the message.
fn declared_total<R: Read + Seek>(zip: &ZipArchive<R>) -> u64 {
    (0..zip.len())
        .filter_map(|i| zip.by_index_data(i).ok())
        .fold(0u64, |sum, e| sum.saturating_add(e.size()))
}

/// What makes an archive entry name unsafe or ambiguous, if anything.
pub(super) fn entry_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("has an empty name");
    }
    if name.chars().any(char::is_control) {
        return Some("contains a NUL or control character");
    }
    if name.contains('\\') {
        return Some("contains a backslash (`\\`)");
    }
    if name.starts_with('/') {
        return Some("is an absolute path");
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if name.ends_with('/') {
        components.pop();
    }
    if let Some(first) = components.first() {
        let bytes = first.as_bytes();
        if bytes.len() >= 2
            && bytes.first().is_some_and(u8::is_ascii_alphabetic)
            && bytes.get(1) == Some(&b':')
        {
            return Some("starts with a drive letter");
        }
    }
    if components.contains(&"..") {
        return Some("contains a `..` component");
    }
    if components.iter().any(|c| c.is_empty() || *c == ".") {
        return Some("contains an empty or `.` component");
    }
    None
}

/// Reads a zip entry's decompressed content into `sink`, at most `limit` + 1 bytes, checking
/// the CRC and the declared size when the end is reached. Decompression is done here rather
/// than by the `zip` crate so that reading past a limit can be told apart from corruption.
/// Returns the number of bytes read (`limit + 1` means "more than `limit`").
pub(super) fn stream_zip_entry<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entry: &ZipEntry,
    limit: u64,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<u64, DistErrorReason> {
    let corrupt = |source: io::Error| DistErrorReason::CorruptEntry {
        name: escape(&entry.name),
        source,
    };
    let raw = zip
        .by_index_raw(entry.index)
        .map_err(|e| corrupt(io::Error::other(e)))?;
    let expected_crc = raw.crc32();
    let declared = raw.size();
    let method = raw.compression();
    let decompressed: Box<dyn Read + '_> = match method {
        CompressionMethod::Stored => Box::new(raw),
        _ => Box::new(flate2::read::DeflateDecoder::new(raw)),
    };
    let mut bounded = decompressed.take(limit.saturating_add(1));
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut count: u64 = 0;
    loop {
        let n = match bounded.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        crc.update(chunk);
        sink(chunk);
        count = count.saturating_add(n as u64);
    }
    if count > limit {
        return Ok(count);
    }
    if count != declared {
        return Err(corrupt(io::Error::other(format!(
            "it decompresses to {count} bytes, its header declares {declared}"
        ))));
    }
    if crc.finalize() != expected_crc {
        return Err(corrupt(io::Error::other(
            "its CRC-32 does not match its content",
        )));
    }
    Ok(count)
}

/// Reads a whole small entry (METADATA, WHEEL, RECORD, PKG-INFO), refusing one over `limit`.
pub(super) fn read_zip_entry<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entry: &ZipEntry,
    limit: u64,
) -> Result<Vec<u8>, DistErrorReason> {
    let too_large = || DistErrorReason::EntryTooLarge {
        name: escape(&entry.name),
        limit,
    };
    if entry.size > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
    let count = stream_zip_entry(zip, entry, limit, &mut |chunk| {
        bytes.extend_from_slice(chunk)
    })?;
    if count > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::super::DistErrorReason as R;
    use super::super::test_support::reason;
    use gt4py_testkit::dist_builder::{RawEntry, WheelBuilder};

    #[test]
    fn a_total_over_the_limit_is_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = WheelBuilder::new("dace", "1.0");
        for i in 0..3 {
            // Each entry declares 3 GiB (9 GiB in all). Its data is a short deflate stream
            // padded to 2 MiB, so the declared ratio (1,536:1) passes the ratio check and only
            // the total can refuse it; nothing is inflated.
            let mut entry = RawEntry::zeros(format!("dace/part{i}.bin"), 1 << 20, 3 << 30).unwrap();
            entry.data.resize(2 << 20, 0);
            builder = builder.raw_entry(entry);
        }
        let path = builder.build(dir.path()).unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(reason(&path), R::TooMuchData { .. }));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
