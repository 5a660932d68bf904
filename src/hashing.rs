//! Content digests: sha256 (what pip checks, `#sha256=` in pages) and git's blob sha (what the
//! GitHub Contents API reports, so "is this exact file already there?" needs no download).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Both digests of one file, computed in one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigests {
    /// Lower-case hex sha256.
    pub sha256: String,
    /// Lower-case hex git blob sha: `sha1("blob <len>\0" + bytes)`.
    pub blob_sha: String,
    pub size: u64,
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Git's blob sha of `bytes`, as GitHub reports it for a file with this content.
pub fn git_blob_sha(bytes: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    hex(&hasher.finalize())
}

/// Hashes a file with both digests in a single streaming pass (constant memory).
pub fn digest_file(path: &Path) -> io::Result<FileDigests> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    digest_reader(&mut file, size)
}

/// Hashes `reader`, which must yield exactly `size` bytes (the blob header needs the length up
/// front; a file that changes while being read is an error rather than a wrong digest).
pub fn digest_reader(reader: &mut impl Read, size: u64) -> io::Result<FileDigests> {
    let mut sha256 = Sha256::new();
    let mut blob = Sha1::new();
    blob.update(format!("blob {size}\0").as_bytes());
    let seen = for_each_chunk(reader, |chunk| {
        sha256.update(chunk);
        blob.update(chunk);
    })?;
    if seen != size {
        return Err(io::Error::other(format!(
            "the file changed while it was being read ({size} bytes expected, {seen} read)"
        )));
    }
    Ok(FileDigests {
        sha256: hex(&sha256.finalize()),
        blob_sha: hex(&blob.finalize()),
        size,
    })
}

/// The git blob sha alone of `reader`, which must yield exactly `size` bytes: what a local
/// compare-and-swap needs, at half the cost of both digests.
pub fn blob_sha_reader(reader: &mut impl Read, size: u64) -> io::Result<String> {
    let mut blob = Sha1::new();
    blob.update(format!("blob {size}\0").as_bytes());
    let seen = for_each_chunk(reader, |chunk| blob.update(chunk))?;
    if seen != size {
        return Err(io::Error::other(format!(
            "the file changed while it was being read ({size} bytes expected, {seen} read)"
        )));
    }
    Ok(hex(&blob.finalize()))
}

/// Sha256 only, for callers that hash a stream of unknown length (entries inside a wheel).
pub fn sha256_reader(reader: &mut impl Read) -> io::Result<(Vec<u8>, u64)> {
    let mut sha256 = Sha256::new();
    let seen = for_each_chunk(reader, |chunk| sha256.update(chunk))?;
    Ok((sha256.finalize().to_vec(), seen))
}

/// Feeds `reader` to `consume` in chunks until the end; returns the byte count. 256 KiB chunks:
/// large enough that the SHA-NI kernels, not syscalls, set the pace.
fn for_each_chunk(reader: &mut impl Read, mut consume: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut seen: u64 = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(seen),
            Ok(n) => {
                consume(&buf[..n]);
                seen += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Whether `s` looks like a lower- or upper-case hex sha256 (64 hex digits).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_sha_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin` and `git hash-object /dev/null`.
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn streaming_digests_equal_one_shot_digests() {
        let data: Vec<u8> = (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect();
        let d = digest_reader(&mut &data[..], data.len() as u64).unwrap();
        assert_eq!(d.sha256, sha256_hex(&data));
        assert_eq!(d.blob_sha, git_blob_sha(&data));
        assert_eq!(d.size, data.len() as u64);
    }

    #[test]
    fn a_stream_shorter_than_announced_is_an_error() {
        let data = b"abc";
        assert!(digest_reader(&mut &data[..], 4).is_err());
    }
}
