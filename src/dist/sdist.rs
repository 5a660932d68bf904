//! Sdist validation (`.tar.gz` and `.zip`): `NAME-VERSION/PKG-INFO` at the top, agreeing with
//! the filename; safe entry names and links; and, for `.tar.gz`, caps on the tar headers the
//! reader would otherwise load whole.

use std::io::{self, Read, Seek};

use crate::filename::DistFilename;
use crate::metadata::CoreMetadata;

use super::check_name_and_version;
use super::error::{DistErrorReason, escape};
use super::zip_reader::{
    MAX_METADATA_SIZE, MAX_TOTAL_UNCOMPRESSED, entry_name_problem, open_zip, read_zip_entry,
};

/// Cap on the decompressed header bytes of one sdist (tar) entry: header, long names, PAX.
pub const MAX_TAR_ENTRY_HEADERS: u64 = 1 << 20;
/// Cap on the decompressed header bytes of all sdist (tar) entries together.
pub const MAX_TAR_HEADERS: u64 = 256 << 20;

/// Where an sdist's PKG-INFO must be, and what else was seen.
struct PkgInfoSearch {
    expected: String,
    found: Option<Vec<u8>>,
    elsewhere: Option<String>,
}

impl PkgInfoSearch {
    fn new(filename: &DistFilename) -> Self {
        PkgInfoSearch {
            expected: format!("{}/PKG-INFO", filename.stem()),
            found: None,
            elsewhere: None,
        }
    }

    /// Whether `name` is the PKG-INFO to read; remembers the first misplaced one for the hint.
    fn wants(&mut self, name: &str) -> Result<bool, DistErrorReason> {
        if name == self.expected {
            if self.found.is_some() {
                return Err(DistErrorReason::DuplicateEntry { name: escape(name) });
            }
            return Ok(true);
        }
        if self.elsewhere.is_none() && (name == "PKG-INFO" || name.ends_with("/PKG-INFO")) {
            self.elsewhere = Some(escape(name));
        }
        Ok(false)
    }

    fn finish(self, filename: &DistFilename) -> Result<CoreMetadata, DistErrorReason> {
        let Some(bytes) = self.found else {
            return Err(DistErrorReason::MissingPkgInfo {
                expected: escape(&self.expected),
                found: self.elsewhere,
            });
        };
        let metadata =
            CoreMetadata::parse(&bytes).map_err(|source| DistErrorReason::InvalidMetadata {
                file: escape(&self.expected),
                source,
            })?;
        check_name_and_version(&escape(&self.expected), &metadata, filename)?;
        Ok(metadata)
    }
}

pub(super) fn validate_sdist_zip<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
) -> Result<CoreMetadata, DistErrorReason> {
    let (mut zip, entries) = open_zip(reader)?;
    let mut search = PkgInfoSearch::new(filename);
    for entry in entries.iter().filter(|e| !e.is_dir) {
        if search.wants(&entry.name)? {
            search.found = Some(read_zip_entry(&mut zip, entry, MAX_METADATA_SIZE)?);
        }
    }
    search.finish(filename)
}

pub(super) fn validate_sdist_tar_gz<R: Read>(
    reader: R,
    filename: &DistFilename,
) -> Result<CoreMetadata, DistErrorReason> {
    let unreadable = DistErrorReason::UnreadableArchive;
    // Multi-member gzip is valid gzip (Python's tarfile reads it).
    let (capped, budget) = HeaderBudget::wrap(flate2::read::MultiGzDecoder::new(reader));
    let mut archive = tar::Archive::new(capped);
    let mut search = PkgInfoSearch::new(filename);
    let mut total: u64 = 0;
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        budget.entry_starts(entry.size());
        // Every entry's declared size counts, links and skipped ones too: the tar reader skips
        // an entry by reading its data, whatever its type.
        total = total.saturating_add(entry.size());
        if total > MAX_TOTAL_UNCOMPRESSED {
            return Err(DistErrorReason::TooMuchData {
                total,
                limit: MAX_TOTAL_UNCOMPRESSED,
            });
        }
        let raw_name = entry.path_bytes().into_owned();
        let Ok(name) = String::from_utf8(raw_name) else {
            return Err(DistErrorReason::UnsafeEntryName {
                name: escape(&String::from_utf8_lossy(&entry.path_bytes())),
                problem: "is not valid UTF-8",
            });
        };
        // `tar czf x.tar.gz ./dir` writes `./dir/...`; that prefix means nothing.
        let mut name = name.as_str();
        while let Some(rest) = name.strip_prefix("./") {
            name = rest;
        }
        if name.is_empty() || name == "." {
            continue;
        }
        if let Some(problem) = entry_name_problem(name) {
            return Err(DistErrorReason::UnsafeEntryName {
                name: escape(name),
                problem,
            });
        }
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            let what = if kind.is_fifo() {
                "named pipe"
            } else {
                "device file"
            };
            return Err(DistErrorReason::UnsupportedEntryType {
                name: escape(name),
                kind: what,
            });
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            // A symlink resolves from its folder, a hard link from the archive's root.
            let base = if kind.is_symlink() {
                name.rsplit_once('/').map_or("", |(dir, _)| dir)
            } else {
                ""
            };
            if link_escapes(base, &target) {
                return Err(DistErrorReason::UnsafeLinkTarget {
                    name: escape(name),
                    target: escape(&target),
                });
            }
            continue;
        }
        if kind.is_file() && search.wants(name)? {
            if entry.size() > MAX_METADATA_SIZE {
                return Err(DistErrorReason::EntryTooLarge {
                    name: escape(name),
                    limit: MAX_METADATA_SIZE,
                });
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_METADATA_SIZE)
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
            search.found = Some(bytes);
        }
    }
    search.finish(filename)
}

/// Caps what the tar reader reads between the data of one entry and the next (headers, GNU long
/// names, PAX records, which it loads into memory whole): it is handed the decompressed stream
/// through [`CappedRead`], which fails a read past the allowance; [`HeaderBudget::entry_starts`]
/// moves the allowance past each entry's data.
#[derive(Clone)]
struct HeaderBudget {
    state: std::rc::Rc<std::cell::Cell<BudgetState>>,
}

#[derive(Clone, Copy, Default)]
struct BudgetState {
    /// Decompressed bytes read so far.
    consumed: u64,
    /// Reads may not go past this position.
    allowed: u64,
    /// Where the data of the last entry ends (its size rounded up to 512-byte blocks).
    data_end: u64,
    /// Header bytes of all entries so far.
    headers: u64,
}

struct CappedRead<R> {
    inner: R,
    budget: HeaderBudget,
}

impl HeaderBudget {
    fn wrap<R: Read>(inner: R) -> (CappedRead<R>, HeaderBudget) {
        let budget = HeaderBudget {
            state: std::rc::Rc::new(std::cell::Cell::new(BudgetState {
                allowed: MAX_TAR_ENTRY_HEADERS,
                ..BudgetState::default()
            })),
        };
        let reader = CappedRead {
            inner,
            budget: budget.clone(),
        };
        (reader, budget)
    }

    /// An entry of `size` data bytes was handed out: its headers are counted, and the reader
    /// may go on to the end of its data plus the headers of the next one.
    fn entry_starts(&self, size: u64) {
        let mut state = self.state.get();
        let headers = state.consumed.saturating_sub(state.data_end);
        state.headers = state.headers.saturating_add(headers);
        state.data_end = state
            .consumed
            .saturating_add(size.div_ceil(512).saturating_mul(512));
        let left = MAX_TAR_HEADERS.saturating_sub(state.headers);
        state.allowed = state
            .data_end
            .saturating_add(MAX_TAR_ENTRY_HEADERS.min(left));
        self.state.set(state);
    }
}

impl<R: Read> Read for CappedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut state = self.budget.state.get();
        let left = state.allowed.saturating_sub(state.consumed);
        if left == 0 && !buf.is_empty() {
            let limit = if state.headers.saturating_add(MAX_TAR_ENTRY_HEADERS) > MAX_TAR_HEADERS {
                format!("{MAX_TAR_HEADERS} bytes for all entries")
            } else {
                format!("{MAX_TAR_ENTRY_HEADERS} bytes for one entry")
            };
            return Err(io::Error::other(format!(
                "its tar headers (names, long names, PAX records) take more than {limit}"
            )));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        state.consumed = state.consumed.saturating_add(n as u64);
        self.budget.state.set(state);
        Ok(n)
    }
}

/// Whether a link at folder `base` pointing to `target` resolves outside the archive.
fn link_escapes(base: &str, target: &str) -> bool {
    if target.starts_with('/') || target.contains('\\') || target.contains('\0') {
        return true;
    }
    let mut depth: usize = base.split('/').filter(|c| !c.is_empty()).count();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return true,
            },
            _ => depth = depth.saturating_add(1),
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::test_support::reason;
    use super::super::validate_bytes;
    use super::*;
    use gt4py_testkit::dist_builder::{SdistBuilder, core_metadata};

    use DistErrorReason as R;

    #[test]
    fn refuses_bad_sdists() {
        let dir = tempfile::tempdir().unwrap();
        type Check = fn(&DistErrorReason) -> bool;
        let s = || SdistBuilder::new("dace", "1.0");
        let cases: Vec<(&str, SdistBuilder, Check)> = vec![
            (
                "nested only",
                s().pkg_info_path("dace-1.0/vendor/sub/PKG-INFO"),
                |r| matches!(r, R::MissingPkgInfo { found: Some(_), .. }),
            ),
            (
                "nested only zip",
                s().zip().pkg_info_path("dace-1.0/vendor/sub/PKG-INFO"),
                |r| matches!(r, R::MissingPkgInfo { found: Some(_), .. }),
            ),
            ("other top", s().top_dir("other-1.0"), |r| {
                matches!(r, R::MissingPkgInfo { .. })
            }),
            (
                "name",
                s().pkg_info_override(&core_metadata("other", "1.0", None)),
                |r| matches!(r, R::NameMismatch { .. }),
            ),
            (
                "version zip",
                s().zip()
                    .pkg_info_override(&core_metadata("dace", "2.0", None)),
                |r| matches!(r, R::VersionMismatch { .. }),
            ),
            ("traversal", s().extra_entry("../evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("absolute", s().extra_entry("/etc/passwd", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            (
                "traversal zip",
                s().zip().extra_entry("dace-1.0/../../evil.py", b"x"),
                |r| matches!(r, R::UnsafeEntryName { .. }),
            ),
            (
                "link",
                s().symlink("dace-1.0/evil", "../../etc/passwd"),
                |r| matches!(r, R::UnsafeLinkTarget { .. }),
            ),
            (
                "two PKG-INFO",
                s().extra_entry("dace-1.0/PKG-INFO", &core_metadata("dace", "1.0", None)),
                |r| matches!(r, R::DuplicateEntry { .. }),
            ),
            ("html", s().requires_python("\"><img src=x>"), |r| {
                matches!(r, R::InvalidMetadata { .. })
            }),
        ];
        for (what, builder, check) in cases {
            let sub = dir.path().join(what);
            std::fs::create_dir(&sub).unwrap();
            let path = builder.build(&sub).unwrap();
            let r = reason(&path);
            assert!(check(&r), "{what}: unexpected {r:?}");
        }

        let not_gz = dir.path().join("dace-1.0.tar.gz");
        std::fs::write(&not_gz, b"PK\x03\x04 not gzip").unwrap();
        assert!(matches!(reason(&not_gz), R::UnreadableArchive(_)));
    }

    /// A `.tar.gz` of `entries` (path, content) with GNU headers, so long paths become GNU
    /// long-name entries.
    fn tar_gz(entries: &[(String, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, *content).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    /// Found by the `sdist_tar_gz` fuzz target's review: the tar reader loads GNU long names
    /// and PAX records whole, so a few KiB of gzip could make it allocate gigabytes.
    #[test]
    fn huge_tar_headers_are_refused_without_loading_them() {
        let pkg_info = core_metadata("dace", "1.0", None);
        let ok = tar_gz(&[
            ("dace-1.0/PKG-INFO".to_string(), &pkg_info),
            (format!("dace-1.0/{}/x.py", "a".repeat(5000)), b"x"),
        ]);
        validate_bytes("dace-1.0.tar.gz", &ok).unwrap();

        let long_name = format!("dace-1.0/{}", "a".repeat(MAX_TAR_ENTRY_HEADERS as usize));
        let huge = tar_gz(&[
            ("dace-1.0/PKG-INFO".to_string(), &pkg_info),
            (long_name, b"x"),
        ]);
        assert!(huge.len() < 64 << 10, "{}", huge.len());
        let err = validate_bytes("dace-1.0.tar.gz", &huge).unwrap_err();
        assert!(
            matches!(&err.reason, R::UnreadableArchive(e) if e.to_string().contains("1048576 bytes for one entry")),
            "{:?}",
            err.reason
        );
    }

    /// Found by review of the tar header cap: a link's declared size was not counted, so a
    /// symlink declaring terabytes of data made the reader skip (inflate) them all, and moved
    /// the header allowance past them.
    #[test]
    fn a_link_declaring_a_huge_size_is_refused_without_reading() {
        let mut header = tar::Header::new_gnu();
        header.set_path("dace-1.0/link").unwrap();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_link_name("PKG-INFO").unwrap();
        header.set_size(1 << 40);
        header.set_cksum();
        let mut raw = header.as_bytes().to_vec();
        raw.extend_from_slice(&[0; 1024]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        let bytes = gz.finish().unwrap();
        let err = validate_bytes("dace-1.0.tar.gz", &bytes).unwrap_err();
        assert!(
            matches!(err.reason, R::TooMuchData { .. }),
            "{:?}",
            err.reason
        );
    }

    #[test]
    fn entry_names_and_links() {
        for ok in ["a", "a/b.py", "a/", "a/b/", "a.dist-info/RECORD", "ab:c"] {
            assert_eq!(entry_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "", "/a", "../a", "a/../b", "a\\b", "a\0", "C:/x", "a//b", "./a", "a/./b", "a\nb",
        ] {
            assert!(entry_name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(!link_escapes("a/b", "../c"));
        assert!(!link_escapes("a/b", "../../c"));
        assert!(link_escapes("a/b", "../../../c"));
        assert!(link_escapes("a", "/etc/passwd"));
        assert!(link_escapes("", ".."));
    }
}
