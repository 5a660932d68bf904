//! A wheel's RECORD: parsed as Python's `csv` module reads it, then verified against the wheel
//! (every file listed once, with a strong hash and a size its content matches).

use std::collections::BTreeMap;
use std::io::{Read, Seek};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zip::ZipArchive;

use super::error::{DistErrorReason, escape};
use super::zip_reader::{ZipEntry, stream_zip_entry};

/// A hash algorithm RECORD may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: HashAlgorithm) -> Self {
        match algorithm {
            HashAlgorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            HashAlgorithm::Sha384 => Hasher::Sha384(Sha384::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// One row of RECORD: a path with its hash and size, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecordRow {
    line: usize,
    path: String,
    hash: String,
    size: String,
}

/// Parses RECORD as Python's `csv` module (default dialect) reads it: `,`-separated fields,
/// optionally double-quoted with `""` for a quote, quoted fields may hold line breaks, rows end
/// at `\n`, `\r\n` or `\r`. Blank lines are skipped.
pub(super) fn parse_record(bytes: &[u8]) -> Result<Vec<RecordRow>, DistErrorReason> {
    let text = std::str::from_utf8(bytes).map_err(|e| DistErrorReason::InvalidRecord {
        line: 1 + bytes
            .get(..e.valid_up_to())
            .unwrap_or_default()
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        problem: "it is not valid UTF-8".to_string(),
    })?;

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        StartField,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut rows = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = State::StartField;
    let mut line = 1usize;
    let mut row_line = 1usize;
    let mut chars = text.chars().peekable();

    let mut end_row = |fields: &mut Vec<String>, row_line: usize| -> Result<(), DistErrorReason> {
        let row = std::mem::take(fields);
        if row.len() == 1 && row.first().is_some_and(String::is_empty) {
            return Ok(()); // a blank line
        }
        match <[String; 3]>::try_from(row) {
            Ok([path, hash, size]) => {
                rows.push(RecordRow {
                    line: row_line,
                    path,
                    hash,
                    size,
                });
                Ok(())
            }
            Err(row) => Err(DistErrorReason::InvalidRecord {
                line: row_line,
                problem: format!("it has {} fields, expected 3 (path,hash,size)", row.len()),
            }),
        }
    };

    while let Some(c) = chars.next() {
        let newline = c == '\n' || c == '\r';
        if newline && c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
        }
        match state {
            State::Quoted => {
                if c == '"' {
                    state = State::QuoteInQuoted;
                } else {
                    field.push(c);
                }
                if newline {
                    line = line.saturating_add(1);
                }
                continue;
            }
            State::QuoteInQuoted if c == '"' => {
                field.push('"');
                state = State::Quoted;
                continue;
            }
            State::StartField if c == '"' => {
                state = State::Quoted;
                continue;
            }
            _ => {}
        }
        if c == ',' {
            fields.push(std::mem::take(&mut field));
            state = State::StartField;
        } else if newline {
            fields.push(std::mem::take(&mut field));
            end_row(&mut fields, row_line)?;
            state = State::StartField;
            line = line.saturating_add(1);
            row_line = line;
        } else {
            // Like Python, text after a closing quote is kept as it is.
            field.push(c);
            state = State::Unquoted;
        }
    }
    if state == State::Quoted {
        return Err(DistErrorReason::InvalidRecord {
            line: row_line,
            problem: "a quoted field is not closed".to_string(),
        });
    }
    if !(fields.is_empty() && field.is_empty() && state == State::StartField) {
        fields.push(field);
        end_row(&mut fields, row_line)?;
    }
    Ok(rows)
}

/// Every file is in RECORD, everything in RECORD is in the wheel, and every file's content
/// has the recorded size and hash.
pub(super) fn verify_record<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    entries: &[ZipEntry],
    by_name: &BTreeMap<&str, &ZipEntry>,
    record: &[RecordRow],
    dist_info: &str,
) -> Result<(), DistErrorReason> {
    let record_path = format!("{dist_info}/RECORD");
    // RECORD cannot hold its own hash; its signatures are added after it is written.
    let exempt = |name: &str| {
        name == record_path
            || name == format!("{record_path}.jws")
            || name == format!("{record_path}.p7s")
    };

    let mut rows: BTreeMap<&str, &RecordRow> = BTreeMap::new();
    for row in record {
        if rows.insert(row.path.as_str(), row).is_some() {
            return Err(DistErrorReason::DuplicateRecordEntry {
                name: escape(&row.path),
            });
        }
    }
    for entry in entries.iter().filter(|e| !e.is_dir) {
        if !exempt(&entry.name) && !rows.contains_key(entry.name.as_str()) {
            return Err(DistErrorReason::FileNotInRecord {
                name: escape(&entry.name),
            });
        }
    }

    // Check every row before reading any content: cheap refusals first.
    let mut to_verify = Vec::new();
    for row in record {
        let Some(entry) = by_name.get(row.path.as_str()).copied() else {
            return Err(DistErrorReason::RecordedFileMissing {
                name: escape(&row.path),
            });
        };
        if exempt(&row.path) {
            continue;
        }
        let name = || escape(&row.path);
        if row.hash.is_empty() {
            return Err(DistErrorReason::RecordEntryWithoutHash { name: name() });
        }
        let (algorithm, expected) = parse_record_hash(row)?;
        if row.size.is_empty() {
            return Err(DistErrorReason::RecordEntryWithoutSize { name: name() });
        }
        let recorded: u64 = row
            .size
            .parse()
            .map_err(|_| DistErrorReason::InvalidRecord {
                line: row.line,
                problem: format!("the size `{}` is not a number", escape(&row.size)),
            })?;
        if recorded != entry.size {
            return Err(DistErrorReason::RecordSizeMismatch {
                name: name(),
                recorded,
                actual: entry.size,
            });
        }
        to_verify.push((entry, algorithm, expected, recorded));
    }

    for (entry, algorithm, expected, recorded) in to_verify {
        let mut hasher = Hasher::new(algorithm);
        let count = stream_zip_entry(zip, entry, recorded, &mut |chunk| hasher.update(chunk))?;
        if count > recorded {
            return Err(DistErrorReason::EntryExceedsRecordedSize {
                name: escape(&entry.name),
                recorded,
            });
        }
        if hasher.finish() != expected {
            return Err(DistErrorReason::RecordHashMismatch {
                name: escape(&entry.name),
            });
        }
    }
    Ok(())
}

/// `sha256=<urlsafe base64>` → the algorithm and the digest bytes.
fn parse_record_hash(row: &RecordRow) -> Result<(HashAlgorithm, Vec<u8>), DistErrorReason> {
    let name = || escape(&row.path);
    let Some((algorithm, value)) = row.hash.split_once('=') else {
        return Err(DistErrorReason::InvalidRecord {
            line: row.line,
            problem: format!("the hash `{}` is not ALGORITHM=VALUE", escape(&row.hash)),
        });
    };
    let algorithm = match algorithm.to_ascii_lowercase().as_str() {
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        "md5" | "sha1" | "sha224" => {
            return Err(DistErrorReason::WeakRecordHash {
                name: name(),
                algorithm: escape(algorithm),
            });
        }
        _ => {
            return Err(DistErrorReason::UnsupportedRecordHash {
                name: name(),
                algorithm: escape(algorithm),
            });
        }
    };
    // The spec says no padding; some tools pad anyway, which changes nothing.
    let digest = URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .ok()
        .filter(|d| d.len() == algorithm.digest_len())
        .ok_or_else(|| DistErrorReason::InvalidRecord {
            line: row.line,
            problem: format!(
                "the hash of `{}` is not a urlsafe-base64 {algorithm:?} digest",
                name()
            ),
        })?;
    Ok((algorithm, digest))
}

#[cfg(test)]
mod tests {
    use super::super::validate;
    use super::*;
    use gt4py_testkit::dist_builder::{WheelBuilder, record_hash};

    #[test]
    fn sha384_sha512_and_padded_hashes_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let init = b"__version__ = \"1.0\"\n";
        let sha512 = format!("sha512={}", URL_SAFE_NO_PAD.encode(Sha512::digest(init)));
        let sha384 = format!("SHA384={}", URL_SAFE_NO_PAD.encode(Sha384::digest(init)));
        let padded = format!("{}=", record_hash(init));
        for (i, hash) in [sha512, sha384, padded].iter().enumerate() {
            let sub = dir.path().join(i.to_string());
            std::fs::create_dir(&sub).unwrap();
            let path = WheelBuilder::new("dace", "1.0")
                .record_row("dace/__init__.py", hash, &init.len().to_string())
                .build(&sub)
                .unwrap();
            validate(&path).unwrap_or_else(|e| panic!("{hash}: {:?}", e.reason));
        }
    }

    #[test]
    fn record_csv_follows_pythons_csv_module() {
        let rows =
            parse_record(b"a,sha256=x,1\r\n\"b,\"\"c\"\"\",,\n\n\"multi\nline\",h,2\rlast,h,3")
                .unwrap();
        let paths: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a", "b,\"c\"", "multi\nline", "last"]);
        assert_eq!(rows.get(3).unwrap().line, 6);
        assert!(parse_record(b"a,b\n").is_err());
        assert!(parse_record(b"a,b,c,d\n").is_err());
        assert!(parse_record(b"\xff,b,c\n").is_err());
        assert!(parse_record(b"").unwrap().is_empty());
    }
}
