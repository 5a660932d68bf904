//! The body of a Contents API write, streamed.
//!
//! `PUT contents/{path}` wants the whole file base64-encoded inside a JSON object. Building that
//! string would hold 4/3 of a 100 MB wheel in memory; instead the body is a reader that yields
//! a small JSON prefix, then the file encoded on the fly in chunks of `3·k` bytes (so no chunk
//! but the last needs padding and the chunks concatenate to the one-shot encoding), then `"}`.
//! Its exact length is known up front, so it goes out with a `Content-Length`
//! (`reqwest::blocking::Body::sized`).

use std::io::{self, Read};
use std::sync::mpsc::Sender;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Raw bytes encoded per step: a multiple of 3, large enough that syscalls do not dominate.
const CHUNK: usize = 3 * 64 * 1024;

/// Length of the padded standard base64 encoding of `n` bytes.
pub fn encoded_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

/// Base64-encodes exactly `len` bytes of `inner` as a stream. A source that ends early is an
/// error, not a short body: the server would otherwise store a truncated file.
pub struct Base64Reader<R> {
    inner: R,
    remaining: u64,
    input: Vec<u8>,
    output: Vec<u8>,
    pos: usize,
}

impl<R: Read> Base64Reader<R> {
    pub fn new(inner: R, len: u64) -> Self {
        Self::with_chunk(inner, len, CHUNK)
    }

    /// `chunk` is rounded down to a multiple of 3 (at least 3); small values exercise the chunk
    /// boundaries in tests.
    fn with_chunk(inner: R, len: u64, chunk: usize) -> Self {
        let chunk = (chunk / 3).max(1) * 3;
        Self {
            inner,
            remaining: len,
            input: vec![0; chunk],
            output: Vec::with_capacity(chunk / 3 * 4),
            pos: 0,
        }
    }

    /// Reads the next chunk of input and encodes it; `false` at the end.
    fn refill(&mut self) -> io::Result<bool> {
        if self.remaining == 0 {
            return Ok(false);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        let mut filled = 0;
        // Fill the chunk completely: only the very last chunk may be a non-multiple of 3.
        while filled < want {
            match self.inner.read(&mut self.input[filled..want]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ended {} bytes early; it changed after it was validated",
                            self.remaining - filled as u64
                        ),
                    ));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.remaining -= filled as u64;
        self.output.clear();
        self.output.resize(filled.div_ceil(3) * 4, 0);
        let written = STANDARD
            .encode_slice(&self.input[..filled], &mut self.output)
            .map_err(io::Error::other)?;
        self.output.truncate(written);
        self.pos = 0;
        Ok(true)
    }
}

impl<R: Read> Read for Base64Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos == self.output.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.output.len() - self.pos);
        buf[..n].copy_from_slice(&self.output[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reopens a validated file for one upload attempt (a streamed body cannot be replayed), and
/// refuses one whose size is no longer what was validated.
pub fn reopen_validated(
    path: &std::path::Path,
    len: u64,
) -> Result<std::fs::File, super::error::GitHubError> {
    let source = |source| super::error::GitHubError::Source {
        path: path.to_path_buf(),
        source,
    };
    let handle = std::fs::File::open(path).map_err(source)?;
    let size = handle.metadata().map_err(source)?.len();
    if size != len {
        return Err(source(io::Error::other(format!(
            "the file changed after it was validated ({len} bytes expected, {size} found)"
        ))));
    }
    Ok(handle)
}

/// What a write sends, besides the content.
pub struct PutFields<'a> {
    pub message: &'a str,
    pub branch: &'a str,
    /// The blob sha the file must still have; `None` to create it (GitHub wants the field left
    /// out then: `"sha": null` is not the same).
    pub sha: Option<&'a str>,
}

/// The JSON before and after the base64 content: `{"message":…,"branch":…,"sha":…,"content":"`
/// and `"}`. The content goes last so both parts stay small.
pub fn json_envelope(fields: &PutFields<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut head = serde_json::Map::new();
    head.insert("message".into(), fields.message.into());
    head.insert("branch".into(), fields.branch.into());
    if let Some(sha) = fields.sha {
        head.insert("sha".into(), sha.into());
    }
    // Serializing a map of strings cannot fail; the fallback keeps this total anyway.
    let mut prefix = serde_json::to_vec(&head).unwrap_or_else(|_| b"{}".to_vec());
    // Reopen the object: `{...}` → `{...,"content":"`.
    prefix.pop();
    if prefix.len() > 1 {
        prefix.push(b',');
    }
    prefix.extend_from_slice(br#""content":""#);
    (prefix, br#""}"#.to_vec())
}

/// The whole request body as one reader: prefix, encoded content, suffix. Every byte handed to
/// reqwest is also reported on `progress` (batched), so the caller can move a progress bar
/// while the blocking send runs.
pub struct PutBody<R> {
    prefix: io::Cursor<Vec<u8>>,
    content: Base64Reader<R>,
    suffix: io::Cursor<Vec<u8>>,
    len: u64,
    progress: Option<Sender<u64>>,
    produced: u64,
    unreported: u64,
}

/// Progress is sent at least this often (in bytes), so a 100 MB upload costs a few hundred
/// channel messages, not one per 8 KiB read.
const PROGRESS_STEP: u64 = 256 * 1024;

/// The JSON around the content of a `POST /git/blobs`: `{"encoding":"base64","content":"` and
/// `"}`.
pub fn blob_envelope() -> (Vec<u8>, Vec<u8>) {
    (
        br#"{"encoding":"base64","content":""#.to_vec(),
        br#""}"#.to_vec(),
    )
}

impl<R: Read> PutBody<R> {
    pub fn new(fields: &PutFields<'_>, content: R, content_len: u64) -> Self {
        let (prefix, suffix) = json_envelope(fields);
        Self::with_envelope(prefix, suffix, content, content_len)
    }

    /// `prefix`, the base64 of `content_len` bytes of `content`, `suffix`.
    pub fn with_envelope(prefix: Vec<u8>, suffix: Vec<u8>, content: R, content_len: u64) -> Self {
        let len = prefix.len() as u64 + encoded_len(content_len) + suffix.len() as u64;
        Self {
            prefix: io::Cursor::new(prefix),
            content: Base64Reader::new(content, content_len),
            suffix: io::Cursor::new(suffix),
            len,
            progress: None,
            produced: 0,
            unreported: 0,
        }
    }

    /// Reports the bytes read from this body on `progress`.
    pub fn with_progress(mut self, progress: Sender<u64>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Exact length in bytes, for `Content-Length`.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn report(&mut self, n: usize) {
        self.produced += n as u64;
        self.unreported += n as u64;
        // reqwest stops reading once it has `len` bytes and never sees EOF: flush at the last
        // byte, not at the end of the stream.
        let done = self.produced >= self.len;
        if let Some(tx) = &self.progress
            && self.unreported > 0
            && (self.unreported >= PROGRESS_STEP || done)
        {
            // The receiver is gone only when the caller stopped listening; nothing to do then.
            let _ = tx.send(self.unreported);
            self.unreported = 0;
        }
    }
}

impl<R: Read> Read for PutBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = self.prefix.read(buf)?;
        if n == 0 {
            n = self.content.read(buf)?;
        }
        if n == 0 {
            n = self.suffix.read(buf)?;
        }
        self.report(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 256) as u8).collect()
    }

    /// A reader that hands out at most `step` bytes per call, to break up chunks.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn encoded_length_is_exact() {
        for n in 0..20u64 {
            let d = data(n as usize);
            assert_eq!(encoded_len(n), STANDARD.encode(&d).len() as u64, "{n}");
        }
    }

    #[test]
    fn streaming_equals_one_shot_encoding_across_chunk_boundaries() {
        for n in [
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 100, 1000, 4097,
        ] {
            let d = data(n);
            let want = STANDARD.encode(&d);
            for chunk in [3, 6, 9, 12, 30, 3000] {
                for step in [1, 2, 5, 4096] {
                    let mut reader =
                        Base64Reader::with_chunk(Trickle { data: &d, step }, n as u64, chunk);
                    let mut out = String::new();
                    // Small reads on the output side too.
                    let mut buf = [0u8; 7];
                    loop {
                        let k = reader.read(&mut buf).unwrap();
                        if k == 0 {
                            break;
                        }
                        out.push_str(std::str::from_utf8(&buf[..k]).unwrap());
                    }
                    assert_eq!(out, want, "n={n} chunk={chunk} step={step}");
                }
            }
        }
    }

    #[test]
    fn default_chunk_handles_a_large_input() {
        let d = data(CHUNK * 3 + 17);
        let mut out = Vec::new();
        Base64Reader::new(&d[..], d.len() as u64)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, STANDARD.encode(&d).into_bytes());
    }

    #[test]
    fn only_the_announced_length_is_read() {
        let d = data(10);
        let mut out = Vec::new();
        Base64Reader::new(&d[..], 4).read_to_end(&mut out).unwrap();
        assert_eq!(out, STANDARD.encode(&d[..4]).into_bytes());
    }

    #[test]
    fn a_short_source_is_an_error() {
        let d = data(10);
        let mut out = Vec::new();
        let err = Base64Reader::new(&d[..], 11)
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn the_body_is_valid_json_of_the_announced_length() {
        let d = data(1000);
        let fields = PutFields {
            message: "publish \"x\"\n",
            branch: "main",
            sha: Some("abc"),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let mut body = PutBody::new(&fields, &d[..], d.len() as u64).with_progress(tx);
        let len = body.len();
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        drop(body);
        assert_eq!(out.len() as u64, len);
        assert_eq!(rx.iter().sum::<u64>(), len);
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["message"], "publish \"x\"\n");
        assert_eq!(json["branch"], "main");
        assert_eq!(json["sha"], "abc");
        assert_eq!(json["content"], STANDARD.encode(&d));
    }

    #[test]
    fn a_blob_body_is_base64_json() {
        let d = data(5000);
        let (prefix, suffix) = blob_envelope();
        let mut body = PutBody::with_envelope(prefix, suffix, &d[..], d.len() as u64);
        let len = body.len();
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        assert_eq!(out.len() as u64, len);
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["encoding"], "base64");
        assert_eq!(json["content"], STANDARD.encode(&d));
    }

    #[test]
    fn a_create_sends_no_sha_field() {
        let fields = PutFields {
            message: "m",
            branch: "main",
            sha: None,
        };
        let mut out = Vec::new();
        PutBody::new(&fields, &b""[..], 0)
            .read_to_end(&mut out)
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert!(json.get("sha").is_none());
        assert_eq!(json["content"], "");
    }
}
