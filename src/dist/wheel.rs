//! Wheel validation: one `.dist-info` folder named as the file is, METADATA and `WHEEL` that
//! agree with the filename (name, version, tags, build tag), and a RECORD that vouches for
//! every file (checked in [`super::record`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};
use std::str::FromStr;

use pep440_rs::Version;

use crate::filename::DistFilename;
use crate::metadata::{self, CoreMetadata};
use crate::name::ProjectName;

use super::check_name_and_version;
use super::error::{DistErrorReason, escape};
use super::record::{parse_record, verify_record};
use super::zip_reader::{MAX_METADATA_SIZE, MAX_RECORD_SIZE, ZipEntry, open_zip, read_zip_entry};

pub(super) fn validate_wheel<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
) -> Result<(CoreMetadata, Vec<u8>), DistErrorReason> {
    let (mut zip, entries) = open_zip(reader)?;
    let dist_info = find_dist_info(&entries, filename)?;
    let by_name = files_by_name(&entries);
    let dist_info_entry = |file: &str| dist_info_file(&by_name, &dist_info, file);
    let metadata_entry = dist_info_entry("METADATA")?;
    let wheel_entry = dist_info_entry("WHEEL")?;
    let record_entry = dist_info_entry("RECORD")?;

    let (metadata, metadata_bytes) = read_metadata(&mut zip, metadata_entry, filename)?;

    let wheel_bytes = read_zip_entry(&mut zip, wheel_entry, MAX_METADATA_SIZE)?;
    check_wheel_file(&wheel_bytes, filename)?;

    let record_bytes = read_zip_entry(&mut zip, record_entry, MAX_RECORD_SIZE)?;
    let record = parse_record(&record_bytes)?;
    verify_record(&mut zip, &entries, &by_name, &record, &dist_info)?;

    Ok((metadata, metadata_bytes))
}

/// Only what adopting a stored wheel needs: its one `NAME-VERSION.dist-info/METADATA`, agreeing
/// with the filename. No RECORD check (it was checked when the wheel was published, or the
/// folder is being adopted as it is, as the old generator did): this reads the zip's directory
/// and one small entry, not the whole archive.
pub(super) fn read_wheel_metadata<R: Read + Seek>(
    reader: R,
    filename: &DistFilename,
) -> Result<(CoreMetadata, Vec<u8>), DistErrorReason> {
    let (mut zip, entries) = open_zip(reader)?;
    let dist_info = find_dist_info(&entries, filename)?;
    let by_name = files_by_name(&entries);
    let metadata_entry = dist_info_file(&by_name, &dist_info, "METADATA")?;
    read_metadata(&mut zip, metadata_entry, filename)
}

/// The one top-level `*.dist-info` folder, named as the filename says.
fn find_dist_info(
    entries: &[ZipEntry],
    filename: &DistFilename,
) -> Result<String, DistErrorReason> {
    let mut dist_infos = BTreeSet::new();
    for entry in entries {
        if let Some((top, rest)) = entry.name.split_once('/')
            && top.ends_with(".dist-info")
            && (!rest.is_empty() || entry.is_dir)
        {
            dist_infos.insert(top.to_string());
        }
    }
    let dist_info = match dist_infos.len() {
        0 => return Err(DistErrorReason::NoDistInfo),
        1 => dist_infos.pop_first().unwrap_or_default(),
        _ => {
            return Err(DistErrorReason::MultipleDistInfo {
                found: dist_infos
                    .iter()
                    .map(|d| escape(&format!("{d}/")))
                    .collect(),
            });
        }
    };
    check_dist_info_name(&dist_info, filename)?;
    Ok(dist_info)
}

fn files_by_name(entries: &[ZipEntry]) -> BTreeMap<&str, &ZipEntry> {
    entries
        .iter()
        .filter(|e| !e.is_dir)
        .map(|e| (e.name.as_str(), e))
        .collect()
}

fn dist_info_file<'a>(
    by_name: &BTreeMap<&str, &'a ZipEntry>,
    dist_info: &str,
    file: &str,
) -> Result<&'a ZipEntry, DistErrorReason> {
    let name = format!("{dist_info}/{file}");
    by_name
        .get(name.as_str())
        .copied()
        .ok_or(DistErrorReason::MissingDistInfoFile {
            file: escape(&name),
        })
}

/// METADATA, capped, parsed and agreeing with the filename.
fn read_metadata<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    entry: &ZipEntry,
    filename: &DistFilename,
) -> Result<(CoreMetadata, Vec<u8>), DistErrorReason> {
    let bytes = read_zip_entry(zip, entry, MAX_METADATA_SIZE)?;
    let name = escape(&entry.name);
    let metadata =
        CoreMetadata::parse(&bytes).map_err(|source| DistErrorReason::InvalidMetadata {
            file: name.clone(),
            source,
        })?;
    check_name_and_version(&name, &metadata, filename)?;
    Ok((metadata, bytes))
}

/// `NAME-VERSION.dist-info` must name the filename's project and version.
fn check_dist_info_name(dist_info: &str, filename: &DistFilename) -> Result<(), DistErrorReason> {
    let matches = dist_info
        .strip_suffix(".dist-info")
        .and_then(|stem| stem.rsplit_once('-'))
        .is_some_and(|(name, version)| {
            ProjectName::new(name).is_ok_and(|n| &n == filename.project())
                && Version::from_str(version).is_ok_and(|v| &v == filename.version())
        });
    if matches {
        Ok(())
    } else {
        Err(DistErrorReason::DistInfoMismatch {
            found: escape(&format!("{dist_info}/")),
            expected: format!("{}-{}.dist-info/", filename.project(), filename.version()),
        })
    }
}

/// The `WHEEL` file: format version 1.x, and the tags the filename promises.
fn check_wheel_file(bytes: &[u8], filename: &DistFilename) -> Result<(), DistErrorReason> {
    let invalid = |problem: String| DistErrorReason::InvalidWheelFile { problem };
    let headers = metadata::parse_headers(bytes).map_err(|e| invalid(e.to_string()))?;
    let version = metadata::single(&headers, "Wheel-Version")
        .map_err(|e| invalid(e.to_string()))?
        .ok_or_else(|| invalid("it has no `Wheel-Version`".to_string()))?
        .trim();
    let major = version.split_once('.').map_or(version, |(major, _)| major);
    if major != "1" {
        return Err(DistErrorReason::UnsupportedWheelVersion {
            version: escape(version),
        });
    }

    let tags = filename.wheel_tags();
    let in_filename: BTreeSet<String> = tags
        .map(|t| t.expanded())
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    // A compressed tag set expands to the product of its three sets: a few KiB of `Tag: a.a.…`
    // would be billions of tags. A real WHEEL lists each of the filename's tags once or a few
    // times; more than this many is refused before they are expanded.
    let max_tags = in_filename.len().saturating_mul(4).saturating_add(1024);
    let mut expanded: usize = 0;
    let mut in_wheel = BTreeSet::new();
    for tag in metadata::all(&headers, "Tag") {
        // Tags are written expanded; expanding a compressed one too costs nothing.
        let parts: Vec<&str> = tag.trim().split('-').collect();
        let [python, abi, platform] = parts.as_slice() else {
            return Err(invalid(format!(
                "`Tag: {}` is not PYTHON-ABI-PLATFORM",
                escape(tag)
            )));
        };
        let count = [python, abi, platform]
            .iter()
            .fold(1usize, |n, set| n.saturating_mul(set.split('.').count()));
        expanded = expanded.saturating_add(count);
        if expanded > max_tags {
            return Err(invalid(format!(
                "its `Tag` lines stand for more than {max_tags} tags"
            )));
        }
        for p in python.split('.') {
            for a in abi.split('.') {
                for pl in platform.split('.') {
                    in_wheel.insert(format!("{p}-{a}-{pl}").to_ascii_lowercase());
                }
            }
        }
    }
    if in_wheel.is_empty() {
        return Err(invalid("it has no `Tag` lines".to_string()));
    }
    if in_wheel != in_filename {
        return Err(DistErrorReason::WheelTagsMismatch {
            in_wheel: in_wheel.iter().map(|t| escape(t)).collect(),
            in_filename: in_filename.into_iter().collect(),
        });
    }

    let build_in_filename = tags.and_then(|t| t.build.clone());
    if let Some(build) = metadata::single(&headers, "Build").map_err(|e| invalid(e.to_string()))? {
        let build = build.trim();
        if Some(build) != build_in_filename.as_deref() {
            return Err(DistErrorReason::BuildTagMismatch {
                in_wheel: escape(build),
                in_filename: build_in_filename,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::reason;
    use super::super::validate;
    use super::*;
    use crate::metadata::MetadataError;
    use gt4py_testkit::dist_builder::{
        RawEntry, RawZipWriter, WheelBuilder, core_metadata, record_hash, wheel_file,
    };

    use DistErrorReason as R;

    #[test]
    fn a_good_wheel_passes_with_its_metadata_and_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = WheelBuilder::new("dace", "43!2026.2.3")
            .requires_python(">=3.9")
            .file("dace/data/table.csv", &vec![b'x'; 3 << 20])
            .build(dir.path())
            .unwrap();
        let dist = validate(&path).unwrap();
        assert_eq!(dist.filename.as_str(), "dace-43!2026.2.3-py3-none-any.whl");
        assert_eq!(dist.metadata.requires_python.as_deref(), Some(">=3.9"));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(dist.digests.sha256, crate::hashing::sha256_hex(&bytes));
        assert_eq!(dist.digests.blob_sha, crate::hashing::git_blob_sha(&bytes));
        assert_eq!(dist.digests.size, bytes.len() as u64);
        assert_eq!(
            dist.metadata_bytes.as_deref(),
            Some(&core_metadata("dace", "43!2026.2.3", Some(">=3.9"))[..])
        );
    }

    #[test]
    fn refuses_each_kind_of_bad_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let w = || WheelBuilder::new("dace", "1.0");
        type Check = fn(&DistErrorReason) -> bool;
        let cases: Vec<(&str, WheelBuilder, Check)> = vec![
            ("dotdot", w().file("../evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("absolute", w().file("/etc/evil", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("backslash", w().file("dace\\..\\evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("nul", w().extra_entry("dace/a\0b.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            ("drive", w().file("C:/evil.py", b"x"), |r| {
                matches!(r, R::UnsafeEntryName { .. })
            }),
            (
                "duplicate",
                w().extra_entry("dace/__init__.py", b"other"),
                |r| matches!(r, R::DuplicateEntryNames),
            ),
            ("no dist-info", w().dist_info_dir("dace-1.0.info"), |r| {
                matches!(r, R::NoDistInfo)
            }),
            (
                "two dist-infos",
                w().extra_entry("other-1.0.dist-info/METADATA", b"x"),
                |r| matches!(r, R::MultipleDistInfo { .. }),
            ),
            (
                "dist-info name",
                w().dist_info_dir("other-1.0.dist-info"),
                |r| matches!(r, R::DistInfoMismatch { .. }),
            ),
            (
                "dist-info version",
                w().dist_info_dir("dace-1.1.dist-info"),
                |r| matches!(r, R::DistInfoMismatch { .. }),
            ),
            ("no METADATA", w().without_dist_info_file("METADATA"), |r| {
                matches!(r, R::MissingDistInfoFile { .. })
            }),
            ("no WHEEL", w().without_dist_info_file("WHEEL"), |r| {
                matches!(r, R::MissingDistInfoFile { .. })
            }),
            ("no RECORD", w().without_dist_info_file("RECORD"), |r| {
                matches!(r, R::MissingDistInfoFile { .. })
            }),
            (
                "name",
                w().metadata_override(&core_metadata("other", "1.0", None)),
                |r| matches!(r, R::NameMismatch { .. }),
            ),
            (
                "version",
                w().metadata_override(&core_metadata("dace", "1.0.1", None)),
                |r| matches!(r, R::VersionMismatch { .. }),
            ),
            (
                "non-utf8",
                w().metadata_override(b"Metadata-Version: 2.1\nName: dace\xff\n"),
                |r| {
                    matches!(
                        r,
                        R::InvalidMetadata {
                            source: MetadataError::NotUtf8 { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "html",
                w().requires_python(">=3.9\"><script>alert(1)</script>"),
                |r| {
                    matches!(
                        r,
                        R::InvalidMetadata {
                            source: MetadataError::InvalidRequiresPython { .. },
                            ..
                        }
                    )
                },
            ),
            (
                "tags",
                w().wheel_file_override(&wheel_file(&["cp311-cp311-linux_x86_64".into()], None)),
                |r| matches!(r, R::WheelTagsMismatch { .. }),
            ),
            (
                "no tags",
                w().wheel_file_override(b"Wheel-Version: 1.0\n"),
                |r| matches!(r, R::InvalidWheelFile { .. }),
            ),
            (
                "wheel 2",
                w().wheel_file_override(b"Wheel-Version: 2.0\nTag: py3-none-any\n"),
                |r| matches!(r, R::UnsupportedWheelVersion { .. }),
            ),
            (
                "build",
                w().wheel_file_override(&wheel_file(&["py3-none-any".into()], Some("7"))),
                |r| matches!(r, R::BuildTagMismatch { .. }),
            ),
            ("unrecorded", w().extra_entry("dace/evil.py", b"x"), |r| {
                matches!(r, R::FileNotInRecord { .. })
            }),
            ("unrecorded init", w().unrecorded("dace/__init__.py"), |r| {
                matches!(r, R::FileNotInRecord { .. })
            }),
            (
                "recorded missing",
                w().record_row("dace/gone.py", &record_hash(b""), "0"),
                |r| matches!(r, R::RecordedFileMissing { .. }),
            ),
            (
                "hash",
                w().record_row(
                    "dace/__init__.py",
                    &record_hash(b"__version__ = \"6.6\"\n"),
                    "20",
                ),
                |r| matches!(r, R::RecordHashMismatch { .. }),
            ),
            (
                "size",
                w().record_row(
                    "dace/__init__.py",
                    &record_hash(b"__version__ = \"1.0\"\n"),
                    "21",
                ),
                |r| matches!(r, R::RecordSizeMismatch { .. }),
            ),
            (
                "md5",
                w().record_row("dace/__init__.py", "md5=1B2M2Y8AsgTpgAmY7PhCfg", "20"),
                |r| matches!(r, R::WeakRecordHash { .. }),
            ),
            (
                "crc32",
                w().record_row("dace/__init__.py", "crc32=abc", "20"),
                |r| matches!(r, R::UnsupportedRecordHash { .. }),
            ),
            (
                "no hash",
                w().record_row("dace/__init__.py", "", "20"),
                |r| matches!(r, R::RecordEntryWithoutHash { .. }),
            ),
            (
                "no size",
                w().record_row(
                    "dace/__init__.py",
                    &record_hash(b"__version__ = \"1.0\"\n"),
                    "",
                ),
                |r| matches!(r, R::RecordEntryWithoutSize { .. }),
            ),
            (
                "bad base64",
                w().record_row("dace/__init__.py", "sha256=!!", "20"),
                |r| matches!(r, R::InvalidRecord { .. }),
            ),
            (
                "record fields",
                w().record_override(b"dace/__init__.py,sha256=x\n"),
                |r| matches!(r, R::InvalidRecord { line: 1, .. }),
            ),
            (
                "record quote",
                w().record_override(b"\"dace/__init__.py,sha256=x,1\n"),
                |r| matches!(r, R::InvalidRecord { .. }),
            ),
            (
                "record twice",
                w().record_override(
                    format!(
                        "dace/__init__.py,{h},20\ndace/__init__.py,{h},20\n",
                        h = record_hash(b"__version__ = \"1.0\"\n")
                    )
                    .as_bytes(),
                ),
                |r| matches!(r, R::DuplicateRecordEntry { .. }),
            ),
            (
                "bomb",
                // Inflates to 64 MiB, headers and RECORD say 100 bytes.
                w().raw_entry(RawEntry::zeros("dace/zeros.bin", 64 << 20, 100).unwrap())
                    .record_row("dace/zeros.bin", &record_hash(&[0; 100]), "100"),
                |r| matches!(r, R::EntryExceedsRecordedSize { recorded: 100, .. }),
            ),
            (
                "ratio",
                w().raw_entry(RawEntry {
                    name: b"dace/lie.bin".to_vec(),
                    method: 8,
                    data: vec![3, 0],
                    declared_size: 2 << 30,
                    crc32: 0,
                    flags: 0,
                }),
                |r| matches!(r, R::SuspiciousCompressionRatio { .. }),
            ),
            (
                "encrypted",
                w().raw_entry(RawEntry {
                    flags: 1,
                    ..RawEntry::new(
                        "dace/secret.py",
                        b"x",
                        gt4py_testkit::dist_builder::Method::Stored,
                    )
                    .unwrap()
                }),
                |r| matches!(r, R::EncryptedEntry { .. }),
            ),
            (
                "bzip2",
                w().raw_entry(RawEntry {
                    method: 12,
                    ..RawEntry::new(
                        "dace/b.py",
                        b"x",
                        gt4py_testkit::dist_builder::Method::Stored,
                    )
                    .unwrap()
                }),
                |r| matches!(r, R::UnsupportedCompression { .. }),
            ),
            (
                "crc",
                w().raw_entry(RawEntry {
                    crc32: 1,
                    ..RawEntry::new(
                        "dace/c.py",
                        b"x",
                        gt4py_testkit::dist_builder::Method::Deflated,
                    )
                    .unwrap()
                })
                .record_row("dace/c.py", &record_hash(b"x"), "1"),
                |r| matches!(r, R::CorruptEntry { .. }),
            ),
            (
                "metadata size",
                w().metadata_override(&vec![b'a'; (16 << 20) + 1]),
                |r| matches!(r, R::EntryTooLarge { .. }),
            ),
        ];
        for (what, builder, check) in cases {
            let sub = dir.path().join(what);
            std::fs::create_dir(&sub).unwrap();
            let path = builder.build(&sub).unwrap();
            let r = reason(&path);
            assert!(check(&r), "{what}: unexpected {r:?}");
        }
    }

    /// Found by review while writing the `wheel` fuzz target (libFuzzer cannot get past the
    /// CRC check to reach it): a `Tag` line of compressed sets expands to the product of their
    /// sizes, so 12 KiB of `WHEEL` stood for a billion tags and the check never finished.
    #[test]
    fn a_tag_line_standing_for_billions_of_tags_is_refused_quickly() {
        let set = vec!["py3"; 1000].join(".");
        let wheel = format!("Wheel-Version: 1.0\nTag: {set}-{set}-{set}\n");
        let filename = DistFilename::parse("dace-1.0-py3-none-any.whl").unwrap();
        let started = std::time::Instant::now();
        let err = check_wheel_file(wheel.as_bytes(), &filename).unwrap_err();
        assert!(
            matches!(&err, R::InvalidWheelFile { problem } if problem.contains("more than 1028 tags")),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // Repeated and compressed lines of the right tags still pass.
        let filename = DistFilename::parse("six-1.0-py2.py3-none-any.whl").unwrap();
        check_wheel_file(
            b"Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\nTag: py2.py3-none-any\n",
            &filename,
        )
        .unwrap();
    }

    #[test]
    fn raw_zip_writer_and_validator_agree_on_a_hand_made_wheel() {
        // Guards the testkit writer: a wheel made entry by entry passes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hand-1.0-py3-none-any.whl");
        let mut zip = RawZipWriter::create(&path).unwrap();
        let init = b"x = 1\n";
        let meta = core_metadata("hand", "1.0", None);
        let wheel = wheel_file(&["py3-none-any".into()], None);
        zip.add_directory("hand/").unwrap();
        zip.add(
            "hand/__init__.py",
            init,
            gt4py_testkit::dist_builder::Method::Deflated,
        )
        .unwrap();
        zip.add(
            "hand-1.0.dist-info/METADATA",
            &meta,
            gt4py_testkit::dist_builder::Method::Stored,
        )
        .unwrap();
        zip.add(
            "hand-1.0.dist-info/WHEEL",
            &wheel,
            gt4py_testkit::dist_builder::Method::Stored,
        )
        .unwrap();
        let record = format!(
            "hand/__init__.py,{},{}\nhand-1.0.dist-info/METADATA,{},{}\nhand-1.0.dist-info/WHEEL,{},{}\nhand-1.0.dist-info/RECORD,,\n",
            record_hash(init),
            init.len(),
            record_hash(&meta),
            meta.len(),
            record_hash(&wheel),
            wheel.len()
        );
        zip.add(
            "hand-1.0.dist-info/RECORD",
            record.as_bytes(),
            gt4py_testkit::dist_builder::Method::Deflated,
        )
        .unwrap();
        zip.finish().unwrap();
        validate(&path).unwrap();
    }
}
