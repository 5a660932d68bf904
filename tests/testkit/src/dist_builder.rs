//! Real wheels and sdists on disk for the integration tests and benchmarks, with knobs that make
//! them hostile.
//!
//! A default [`WheelBuilder`] produces a wheel that pip installs and whose package imports
//! (`NAME/__init__.py` with `__version__`), with METADATA 2.1, WHEEL and a RECORD whose sha256
//! and sizes are right. Each knob breaks exactly one thing and keeps everything else consistent
//! (for example RECORD is computed over an overridden METADATA), so a test hits the check it
//! means to hit.
//!
//! Zips are written by [`RawZipWriter`], a small writer of our own rather than the `zip`
//! crate's, because hostile archives need what a correct writer refuses to produce: entry names
//! such as `../evil.py` or `/etc/passwd`, duplicate names, and headers that lie about sizes
//! (zip bombs built from a pre-made deflate stream of zeros, so they stay small on disk).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::{Compress, Compression, FlushCompress};
use sha2::{Digest, Sha256};

/// How an entry's bytes are stored in a zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Stored,
    Deflated,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Method::Stored => 0,
            Method::Deflated => 8,
        }
    }
}

/// A zip entry given as the bytes that go into the archive, with headers that may lie.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// The entry name, byte for byte (may be `../x`, absolute, contain NUL…).
    pub name: Vec<u8>,
    /// Compression method code (0 stored, 8 deflate, anything else to test refusals).
    pub method: u16,
    /// The bytes as stored in the archive (compressed for method 8).
    pub data: Vec<u8>,
    /// The uncompressed size the headers declare.
    pub declared_size: u64,
    pub crc32: u32,
    /// General purpose flags (bit 0: encrypted). Bit 11 (UTF-8 names) is always set.
    pub flags: u16,
}

impl RawEntry {
    /// An honest entry (correct size and CRC) with `data` compressed by `method`.
    pub fn new(name: impl AsRef<[u8]>, data: &[u8], method: Method) -> io::Result<Self> {
        let stored = match method {
            Method::Stored => data.to_vec(),
            Method::Deflated => deflate(data)?,
        };
        Ok(RawEntry {
            name: name.as_ref().to_vec(),
            method: method.code(),
            data: stored,
            declared_size: data.len() as u64,
            crc32: crc32(data),
            flags: 0,
        })
    }

    /// A deflated entry that inflates to `inflated` zero bytes, taking about `inflated / 1000`
    /// bytes in the archive. Its headers declare `declared_size` (pass `inflated` for an honest
    /// entry, something small for one that lies). The CRC is the true one.
    pub fn zeros(name: impl AsRef<[u8]>, inflated: u64, declared_size: u64) -> io::Result<Self> {
        Ok(RawEntry {
            name: name.as_ref().to_vec(),
            method: Method::Deflated.code(),
            data: deflate_zeros(inflated)?,
            declared_size,
            crc32: crc32_of_zeros(inflated),
            flags: 0,
        })
    }
}

/// A zip writer that writes whatever it is given (see the module docs for why). No zip64: an
/// offset or size over 4 GiB is an error, which keeps the writer small; tests declare large
/// sizes with several entries instead.
pub struct RawZipWriter<W: Write + Seek> {
    out: W,
    central: Vec<u8>,
    entries: u16,
    offset: u64,
}

const DOS_TIME: u16 = 0;
/// 1980-01-01, the earliest DOS date: fixed, so the same inputs give the same bytes.
const DOS_DATE: u16 = (1 << 5) | 1;
const UTF8_NAMES: u16 = 1 << 11;

impl RawZipWriter<BufWriter<File>> {
    pub fn create(path: &Path) -> io::Result<Self> {
        Ok(Self::new(BufWriter::with_capacity(
            1 << 20,
            File::create(path)?,
        )))
    }
}

impl<W: Write + Seek> RawZipWriter<W> {
    pub fn new(out: W) -> Self {
        RawZipWriter {
            out,
            central: Vec::new(),
            entries: 0,
            offset: 0,
        }
    }

    /// Adds `data` under `name`, compressed by `method`.
    pub fn add(&mut self, name: impl AsRef<[u8]>, data: &[u8], method: Method) -> io::Result<()> {
        self.add_raw(&RawEntry::new(name, data, method)?)
    }

    /// Adds an entry exactly as described, lies included.
    pub fn add_raw(&mut self, entry: &RawEntry) -> io::Result<()> {
        let header_offset = self.offset;
        self.local_header(
            &entry.name,
            entry.method,
            entry.flags,
            entry.crc32,
            entry.data.len() as u64,
            entry.declared_size,
        )?;
        self.out.write_all(&entry.data)?;
        self.offset += entry.data.len() as u64;
        self.central_header(
            &entry.name,
            entry.method,
            entry.flags,
            entry.crc32,
            entry.data.len() as u64,
            entry.declared_size,
            header_offset,
            0o100644,
        )
    }

    /// Adds a directory entry (`name` should end with `/`).
    pub fn add_directory(&mut self, name: impl AsRef<[u8]>) -> io::Result<()> {
        let name = name.as_ref();
        let header_offset = self.offset;
        self.local_header(name, 0, 0, 0, 0, 0)?;
        self.central_header(name, 0, 0, 0, 0, 0, header_offset, 0o040755)
    }

    /// Adds a stored entry of exactly `size` bytes read from `reader`, without holding it in
    /// memory; returns its sha256. The CRC is patched into the local header afterwards.
    pub fn add_stream(
        &mut self,
        name: impl AsRef<[u8]>,
        size: u64,
        reader: &mut impl Read,
    ) -> io::Result<[u8; 32]> {
        let name = name.as_ref();
        let header_offset = self.offset;
        self.local_header(name, 0, 0, 0, size, size)?;
        let mut crc = crc32fast::Hasher::new();
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut written = 0u64;
        while written < size {
            let want = usize::try_from((size - written).min(buf.len() as u64)).unwrap_or(0);
            let n = reader.read(&mut buf[..want])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended before `size` bytes",
                ));
            }
            crc.update(&buf[..n]);
            sha.update(&buf[..n]);
            self.out.write_all(&buf[..n])?;
            written += n as u64;
        }
        self.offset += size;
        let crc = crc.finalize();
        // The CRC sits 14 bytes into the local header.
        self.out.seek(SeekFrom::Start(header_offset + 14))?;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.seek(SeekFrom::Start(self.offset))?;
        self.central_header(name, 0, 0, crc, size, size, header_offset, 0o100644)?;
        Ok(sha.finalize().into())
    }

    /// Writes the central directory and returns the underlying writer (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        let central_offset = u32_field(self.offset)?;
        let central_size = u32_field(self.central.len() as u64)?;
        self.out.write_all(&self.central)?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // this disk
        end.extend_from_slice(&0u16.to_le_bytes()); // disk with the central directory
        end.extend_from_slice(&self.entries.to_le_bytes());
        end.extend_from_slice(&self.entries.to_le_bytes());
        end.extend_from_slice(&central_size.to_le_bytes());
        end.extend_from_slice(&central_offset.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn local_header(
        &mut self,
        name: &[u8],
        method: u16,
        flags: u16,
        crc: u32,
        compressed: u64,
        uncompressed: u64,
    ) -> io::Result<()> {
        let mut h = Vec::with_capacity(30 + name.len());
        h.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes()); // version needed: 2.0
        h.extend_from_slice(&(flags | UTF8_NAMES).to_le_bytes());
        h.extend_from_slice(&method.to_le_bytes());
        h.extend_from_slice(&DOS_TIME.to_le_bytes());
        h.extend_from_slice(&DOS_DATE.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&u32_field(compressed)?.to_le_bytes());
        h.extend_from_slice(&u32_field(uncompressed)?.to_le_bytes());
        h.extend_from_slice(&u16_field(name.len())?.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        h.extend_from_slice(name);
        self.out.write_all(&h)?;
        self.offset += h.len() as u64;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn central_header(
        &mut self,
        name: &[u8],
        method: u16,
        flags: u16,
        crc: u32,
        compressed: u64,
        uncompressed: u64,
        header_offset: u64,
        unix_mode: u32,
    ) -> io::Result<()> {
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes()); // made by: Unix, 2.0
        c.extend_from_slice(&20u16.to_le_bytes());
        c.extend_from_slice(&(flags | UTF8_NAMES).to_le_bytes());
        c.extend_from_slice(&method.to_le_bytes());
        c.extend_from_slice(&DOS_TIME.to_le_bytes());
        c.extend_from_slice(&DOS_DATE.to_le_bytes());
        c.extend_from_slice(&crc.to_le_bytes());
        c.extend_from_slice(&u32_field(compressed)?.to_le_bytes());
        c.extend_from_slice(&u32_field(uncompressed)?.to_le_bytes());
        c.extend_from_slice(&u16_field(name.len())?.to_le_bytes());
        c.extend_from_slice(&0u16.to_le_bytes()); // extra field length
        c.extend_from_slice(&0u16.to_le_bytes()); // comment length
        c.extend_from_slice(&0u16.to_le_bytes()); // disk number
        c.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        let dos_dir = if unix_mode & 0o040000 != 0 { 0x10 } else { 0 };
        c.extend_from_slice(&((unix_mode << 16) | dos_dir).to_le_bytes());
        c.extend_from_slice(&u32_field(header_offset)?.to_le_bytes());
        c.extend_from_slice(name);
        self.entries = self
            .entries
            .checked_add(1)
            .ok_or_else(|| io::Error::other("more than 65535 entries need zip64"))?;
        Ok(())
    }
}

fn u32_field(value: u64) -> io::Result<u32> {
    u32::try_from(value).map_err(|_| io::Error::other("sizes over 4 GiB need zip64"))
}

fn u16_field(value: usize) -> io::Result<u16> {
    u16::try_from(value).map_err(|_| io::Error::other("entry name longer than 65535 bytes"))
}

/// Raw deflate (no zlib header), as zip stores it.
pub fn deflate(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

/// A raw deflate stream that inflates to `len` zero bytes, built without compressing `len`
/// bytes: one MiB of zeros is compressed once with a full flush (which resets the compressor,
/// so every further MiB compresses to the same bytes), and that block is repeated.
pub fn deflate_zeros(len: u64) -> io::Result<Vec<u8>> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut compress = Compress::new(Compression::best(), false);
    let block = compress_all(&mut compress, &zeros, FlushCompress::Full)?;
    let full_chunks = len / CHUNK as u64;
    let tail = usize::try_from(len % CHUNK as u64).unwrap_or(0);
    let mut out = Vec::with_capacity(block.len() * usize::try_from(full_chunks).unwrap_or(0) + 64);
    for _ in 0..full_chunks {
        out.extend_from_slice(&block);
    }
    let mut fresh = Compress::new(Compression::best(), false);
    out.extend(compress_all(
        &mut fresh,
        &zeros[..tail],
        FlushCompress::Finish,
    )?);
    Ok(out)
}

fn compress_all(
    compress: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64 * 1024);
    let start_in = compress.total_in();
    loop {
        let consumed = usize::try_from(compress.total_in() - start_in).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        if out.capacity() - out.len() < 1024 {
            out.reserve(64 * 1024);
        }
        let before = out.len();
        let status = compress
            .compress_vec(rest, &mut out, flush)
            .map_err(io::Error::other)?;
        let done_input = compress.total_in() - start_in == input.len() as u64;
        if matches!(status, flate2::Status::StreamEnd) {
            return Ok(out);
        }
        // Finished flushing: all input taken and the last call had room to spare.
        if done_input && out.len() - before < out.capacity() - before && rest.is_empty() {
            if matches!(flush, FlushCompress::Finish) {
                continue;
            }
            return Ok(out);
        }
    }
}

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

/// CRC-32 of `len` zero bytes, combined from one MiB blocks rather than computed byte by byte.
pub fn crc32_of_zeros(len: u64) -> u32 {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut block = crc32fast::Hasher::new();
    block.update(&zeros);
    let mut total = crc32fast::Hasher::new();
    for _ in 0..len / CHUNK as u64 {
        total.combine(&block);
    }
    let mut tail = crc32fast::Hasher::new();
    tail.update(&zeros[..usize::try_from(len % CHUNK as u64).unwrap_or(0)]);
    total.combine(&tail);
    total.finalize()
}

/// `sha256=<urlsafe base64, no padding>`, as RECORD writes a hash.
pub fn record_hash(bytes: &[u8]) -> String {
    record_hash_of_digest(&Sha256::digest(bytes).into())
}

fn record_hash_of_digest(digest: &[u8; 32]) -> String {
    format!("sha256={}", URL_SAFE_NO_PAD.encode(digest))
}

/// A project name as wheel and sdist filenames write it: lower case, runs of `-_.` → `_`.
pub fn escaped_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_run {
                out.push('_');
            }
            in_run = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

/// The import name of the package the builders put in a distribution.
pub fn import_name(name: &str) -> String {
    escaped_name(name)
}

/// A METADATA / PKG-INFO file (Metadata-Version 2.1).
pub fn core_metadata(name: &str, version: &str, requires_python: Option<&str>) -> Vec<u8> {
    let mut text = format!(
        "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\
         Summary: A test distribution built by gt4py-testkit\n"
    );
    if let Some(requires_python) = requires_python {
        text.push_str(&format!("Requires-Python: {requires_python}\n"));
    }
    text.push_str("Description-Content-Type: text/plain\n\nBuilt for tests.\n");
    text.into_bytes()
}

/// A WHEEL file listing `tags` (each expanded, one per `Tag:` line).
pub fn wheel_file(tags: &[String], build: Option<&str>) -> Vec<u8> {
    let mut text =
        String::from("Wheel-Version: 1.0\nGenerator: gt4py-testkit\nRoot-Is-Purelib: true\n");
    for tag in tags {
        text.push_str(&format!("Tag: {tag}\n"));
    }
    if let Some(build) = build {
        text.push_str(&format!("Build: {build}\n"));
    }
    text.into_bytes()
}

/// Expands a compressed tag triple (`py2.py3-none-any`) into its tags.
pub fn expand_tags(tag: &str) -> Vec<String> {
    let mut parts = tag.splitn(3, '-');
    let python = parts.next().unwrap_or_default();
    let abi = parts.next().unwrap_or_default();
    let platform = parts.next().unwrap_or_default();
    let mut out = Vec::new();
    for p in python.split('.') {
        for a in abi.split('.') {
            for pl in platform.split('.') {
                out.push(format!("{p}-{a}-{pl}"));
            }
        }
    }
    out
}

/// Pseudo-random, incompressible bytes (xorshift64*), cheap enough to stream hundreds of MB.
pub struct NoiseReader {
    state: u64,
}

impl NoiseReader {
    pub fn new(seed: u64) -> Self {
        NoiseReader { state: seed | 1 }
    }
}

impl Read for NoiseReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for chunk in buf.chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let word = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(buf.len())
    }
}

/// One row of RECORD, as the builder will write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub path: String,
    pub hash: String,
    pub size: String,
}

/// Builds a wheel; see the module docs.
#[derive(Debug, Clone)]
pub struct WheelBuilder {
    name: String,
    version: String,
    tag: String,
    build_tag: Option<String>,
    requires_python: Option<String>,
    files: Vec<(String, Vec<u8>)>,
    payload_size: u64,
    method: Method,
    filename: Option<String>,
    dist_info_dir: Option<String>,
    metadata_override: Option<Vec<u8>>,
    wheel_file_override: Option<Vec<u8>>,
    record_override: Option<Vec<u8>>,
    record_rows: Vec<RecordRow>,
    unrecorded: Vec<String>,
    without: Vec<String>,
    extra_entries: Vec<RawEntry>,
}

impl WheelBuilder {
    /// A pure-Python wheel `NAME-VERSION-py3-none-any.whl` with an importable package.
    pub fn new(name: &str, version: &str) -> Self {
        let package = import_name(name);
        let init = format!("__version__ = \"{version}\"\n");
        WheelBuilder {
            name: name.to_string(),
            version: version.to_string(),
            tag: "py3-none-any".to_string(),
            build_tag: None,
            requires_python: None,
            files: vec![(format!("{package}/__init__.py"), init.into_bytes())],
            payload_size: 0,
            method: Method::Deflated,
            filename: None,
            dist_info_dir: None,
            metadata_override: None,
            wheel_file_override: None,
            record_override: None,
            record_rows: Vec::new(),
            unrecorded: Vec::new(),
            without: Vec::new(),
            extra_entries: Vec::new(),
        }
    }

    /// The compressed tag triple, e.g. `py2.py3-none-any` or
    /// `cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64`.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = tag.to_string();
        self
    }
    pub fn build_tag(mut self, build: &str) -> Self {
        self.build_tag = Some(build.to_string());
        self
    }
    pub fn requires_python(mut self, spec: &str) -> Self {
        self.requires_python = Some(spec.to_string());
        self
    }
    /// Adds a file (path from the wheel root), listed in RECORD with its true hash and size.
    pub fn file(mut self, path: &str, bytes: &[u8]) -> Self {
        self.files.push((path.to_string(), bytes.to_vec()));
        self
    }
    /// Adds `NAME/_payload.bin`, `bytes` of incompressible noise, stored and streamed to disk
    /// (for benchmarks with wheels of hundreds of MB).
    pub fn payload_size(mut self, bytes: u64) -> Self {
        self.payload_size = bytes;
        self
    }
    /// Stores files uncompressed instead of deflated.
    pub fn stored(mut self) -> Self {
        self.method = Method::Stored;
        self
    }
    /// Writes the wheel under this filename instead of the one its name and version give.
    pub fn filename(mut self, filename: &str) -> Self {
        self.filename = Some(filename.to_string());
        self
    }
    /// Names the `.dist-info` folder differently (e.g. `other-1.0.dist-info`).
    pub fn dist_info_dir(mut self, dir: &str) -> Self {
        self.dist_info_dir = Some(dir.to_string());
        self
    }
    /// METADATA content, byte for byte (still listed in RECORD with its true hash).
    pub fn metadata_override(mut self, bytes: &[u8]) -> Self {
        self.metadata_override = Some(bytes.to_vec());
        self
    }
    /// WHEEL content, byte for byte (still listed in RECORD with its true hash).
    pub fn wheel_file_override(mut self, bytes: &[u8]) -> Self {
        self.wheel_file_override = Some(bytes.to_vec());
        self
    }
    /// RECORD content, byte for byte.
    pub fn record_override(mut self, bytes: &[u8]) -> Self {
        self.record_override = Some(bytes.to_vec());
        self
    }
    /// Sets the RECORD row of `path` (replacing the computed one, or adding a row).
    pub fn record_row(mut self, path: &str, hash: &str, size: &str) -> Self {
        self.record_rows.push(RecordRow {
            path: path.to_string(),
            hash: hash.to_string(),
            size: size.to_string(),
        });
        self
    }
    /// Leaves `path` out of RECORD while keeping it in the zip.
    pub fn unrecorded(mut self, path: &str) -> Self {
        self.unrecorded.push(path.to_string());
        self
    }
    /// Leaves a `.dist-info` file (`METADATA`, `WHEEL` or `RECORD`) out of the zip and RECORD.
    pub fn without_dist_info_file(mut self, file: &str) -> Self {
        self.without.push(file.to_string());
        self
    }
    /// Adds a zip entry that is not listed in RECORD; the name is used byte for byte.
    pub fn extra_entry(mut self, name: impl AsRef<[u8]>, bytes: &[u8]) -> Self {
        let entry = RawEntry::new(name, bytes, Method::Deflated);
        if let Ok(entry) = entry {
            self.extra_entries.push(entry);
        }
        self
    }
    /// Adds a raw entry (lying headers, bombs); not listed in RECORD unless
    /// [`record_row`](Self::record_row) names it.
    pub fn raw_entry(mut self, entry: RawEntry) -> Self {
        self.extra_entries.push(entry);
        self
    }

    /// The filename the wheel gets.
    pub fn wheel_filename(&self) -> String {
        if let Some(filename) = &self.filename {
            return filename.clone();
        }
        let build = self
            .build_tag
            .as_ref()
            .map(|b| format!("-{b}"))
            .unwrap_or_default();
        format!(
            "{}-{}{build}-{}.whl",
            escaped_name(&self.name),
            self.version,
            self.tag
        )
    }

    /// The `.dist-info` folder name, without the trailing `/`.
    pub fn dist_info(&self) -> String {
        self.dist_info_dir
            .clone()
            .unwrap_or_else(|| format!("{}-{}.dist-info", escaped_name(&self.name), self.version))
    }

    /// The METADATA the wheel carries.
    pub fn metadata_bytes(&self) -> Vec<u8> {
        self.metadata_override.clone().unwrap_or_else(|| {
            core_metadata(&self.name, &self.version, self.requires_python.as_deref())
        })
    }

    /// Writes the wheel into `dir` and returns its path.
    pub fn build(&self, dir: &Path) -> io::Result<PathBuf> {
        let path = dir.join(self.wheel_filename());
        let dist_info = self.dist_info();
        let mut zip = RawZipWriter::create(&path)?;
        let mut rows: Vec<RecordRow> = Vec::new();

        for (name, bytes) in &self.files {
            zip.add(name, bytes, self.method)?;
            rows.push(RecordRow {
                path: name.clone(),
                hash: record_hash(bytes),
                size: bytes.len().to_string(),
            });
        }
        if self.payload_size > 0 {
            let name = format!("{}/_payload.bin", import_name(&self.name));
            let mut noise = NoiseReader::new(0x5eed ^ self.payload_size);
            let digest = zip.add_stream(&name, self.payload_size, &mut noise)?;
            rows.push(RecordRow {
                path: name,
                hash: record_hash_of_digest(&digest),
                size: self.payload_size.to_string(),
            });
        }
        for entry in &self.extra_entries {
            zip.add_raw(entry)?;
        }

        let tags = expand_tags(&self.tag);
        let dist_info_files = [
            ("METADATA", self.metadata_bytes()),
            (
                "WHEEL",
                self.wheel_file_override
                    .clone()
                    .unwrap_or_else(|| wheel_file(&tags, self.build_tag.as_deref())),
            ),
        ];
        for (file, bytes) in &dist_info_files {
            if self.without.iter().any(|w| w == file) {
                continue;
            }
            let name = format!("{dist_info}/{file}");
            zip.add(&name, bytes, self.method)?;
            rows.push(RecordRow {
                path: name,
                hash: record_hash(bytes),
                size: bytes.len().to_string(),
            });
        }

        rows.retain(|row| !self.unrecorded.contains(&row.path));
        for row in &self.record_rows {
            match rows.iter_mut().find(|r| r.path == row.path) {
                Some(existing) => *existing = row.clone(),
                None => rows.push(row.clone()),
            }
        }
        if !self.without.iter().any(|w| w == "RECORD") {
            let record = match &self.record_override {
                Some(bytes) => bytes.clone(),
                None => {
                    let mut text = String::new();
                    for row in &rows {
                        text.push_str(&format!(
                            "{},{},{}\n",
                            csv_field(&row.path),
                            csv_field(&row.hash),
                            csv_field(&row.size)
                        ));
                    }
                    text.push_str(&format!("{dist_info}/RECORD,,\n"));
                    text.into_bytes()
                }
            };
            zip.add(format!("{dist_info}/RECORD"), &record, self.method)?;
        }
        zip.finish()?;
        Ok(path)
    }
}

/// Quotes a CSV field the way Python's csv module does (only when needed).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Archive format of an sdist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdistFormat {
    TarGz,
    Zip,
}

/// Builds an sdist: `NAME-VERSION/` with PKG-INFO, pyproject.toml (setuptools) and the package.
#[derive(Debug, Clone)]
pub struct SdistBuilder {
    name: String,
    version: String,
    format: SdistFormat,
    requires_python: Option<String>,
    files: Vec<(String, Vec<u8>)>,
    filename: Option<String>,
    top_dir: Option<String>,
    pkg_info_override: Option<Vec<u8>>,
    pkg_info_path: Option<String>,
    extra_entries: Vec<(Vec<u8>, Vec<u8>)>,
    symlinks: Vec<(String, String)>,
}

impl SdistBuilder {
    pub fn new(name: &str, version: &str) -> Self {
        let package = import_name(name);
        let pyproject = format!(
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"{name}\"\nversion = \"{version}\"\n"
        );
        SdistBuilder {
            name: name.to_string(),
            version: version.to_string(),
            format: SdistFormat::TarGz,
            requires_python: None,
            files: vec![
                ("pyproject.toml".to_string(), pyproject.into_bytes()),
                (
                    format!("{package}/__init__.py"),
                    format!("__version__ = \"{version}\"\n").into_bytes(),
                ),
            ],
            filename: None,
            top_dir: None,
            pkg_info_override: None,
            pkg_info_path: None,
            extra_entries: Vec::new(),
            symlinks: Vec::new(),
        }
    }

    pub fn format(mut self, format: SdistFormat) -> Self {
        self.format = format;
        self
    }
    /// Shorthand for `.format(SdistFormat::Zip)`.
    pub fn zip(self) -> Self {
        self.format(SdistFormat::Zip)
    }
    pub fn requires_python(mut self, spec: &str) -> Self {
        self.requires_python = Some(spec.to_string());
        self
    }
    /// Adds a file under the top-level folder.
    pub fn file(mut self, path: &str, bytes: &[u8]) -> Self {
        self.files.push((path.to_string(), bytes.to_vec()));
        self
    }
    pub fn filename(mut self, filename: &str) -> Self {
        self.filename = Some(filename.to_string());
        self
    }
    /// Names the top-level folder differently.
    pub fn top_dir(mut self, dir: &str) -> Self {
        self.top_dir = Some(dir.to_string());
        self
    }
    pub fn pkg_info_override(mut self, bytes: &[u8]) -> Self {
        self.pkg_info_override = Some(bytes.to_vec());
        self
    }
    /// Puts PKG-INFO at this full path in the archive instead of `TOP/PKG-INFO`.
    pub fn pkg_info_path(mut self, path: &str) -> Self {
        self.pkg_info_path = Some(path.to_string());
        self
    }
    /// Adds an entry at this full path, byte for byte (may be `../evil.py`).
    pub fn extra_entry(mut self, name: impl AsRef<[u8]>, bytes: &[u8]) -> Self {
        self.extra_entries
            .push((name.as_ref().to_vec(), bytes.to_vec()));
        self
    }
    /// Adds a symbolic link (tar.gz only) at this full path.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.symlinks.push((path.to_string(), target.to_string()));
        self
    }

    pub fn sdist_filename(&self) -> String {
        if let Some(filename) = &self.filename {
            return filename.clone();
        }
        let extension = match self.format {
            SdistFormat::TarGz => "tar.gz",
            SdistFormat::Zip => "zip",
        };
        format!("{}.{extension}", self.default_top())
    }

    fn default_top(&self) -> String {
        format!("{}-{}", escaped_name(&self.name), self.version)
    }

    /// Every entry (full path, bytes), PKG-INFO first.
    fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let top = self.top_dir.clone().unwrap_or_else(|| self.default_top());
        let pkg_info = self.pkg_info_override.clone().unwrap_or_else(|| {
            core_metadata(&self.name, &self.version, self.requires_python.as_deref())
        });
        let pkg_info_path = self
            .pkg_info_path
            .clone()
            .unwrap_or_else(|| format!("{top}/PKG-INFO"));
        let mut entries = vec![(pkg_info_path.into_bytes(), pkg_info)];
        for (path, bytes) in &self.files {
            entries.push((format!("{top}/{path}").into_bytes(), bytes.clone()));
        }
        entries.extend(self.extra_entries.iter().cloned());
        entries
    }

    /// Writes the sdist into `dir` and returns its path.
    pub fn build(&self, dir: &Path) -> io::Result<PathBuf> {
        let path = dir.join(self.sdist_filename());
        match self.format {
            SdistFormat::Zip => {
                let mut zip = RawZipWriter::create(&path)?;
                for (name, bytes) in self.entries() {
                    zip.add(&name, &bytes, Method::Deflated)?;
                }
                zip.finish()?;
            }
            SdistFormat::TarGz => {
                let file = BufWriter::new(File::create(&path)?);
                let gz = flate2::write::GzEncoder::new(file, Compression::default());
                let mut tar = tar::Builder::new(gz);
                for (name, bytes) in self.entries() {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(bytes.len() as u64);
                    header.set_mode(0o644);
                    header.set_entry_type(tar::EntryType::Regular);
                    append_raw_name(&mut tar, header, &name, &bytes)?;
                }
                for (name, target) in &self.symlinks {
                    let mut header = tar::Header::new_gnu();
                    header.set_size(0);
                    header.set_mode(0o777);
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_link_name_literal(target.as_bytes())?;
                    append_raw_name(&mut tar, header, name.as_bytes(), &[])?;
                }
                let gz = tar.into_inner()?;
                let mut file = gz.finish()?;
                file.flush()?;
            }
        }
        Ok(path)
    }
}

/// Appends a tar entry with `name` written byte for byte: `tar::Builder`'s own path setters
/// refuse `..` and absolute paths, which the hostile tests need.
fn append_raw_name<W: Write>(
    tar: &mut tar::Builder<W>,
    mut header: tar::Header,
    name: &[u8],
    data: &[u8],
) -> io::Result<()> {
    let field = &mut header.as_old_mut().name;
    if name.len() <= field.len() {
        field[..name.len()].copy_from_slice(name);
        header.set_cksum();
        tar.append(&header, data)
    } else {
        let path = std::str::from_utf8(name).map_err(io::Error::other)?;
        tar.append_data(&mut header, path, data)
    }
}

/// Cuts a file down to its first `keep` bytes (for truncated-archive tests).
pub fn truncate_file(path: &Path, keep: u64) -> io::Result<()> {
    File::options().write(true).open(path)?.set_len(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_wheel_reads_back_with_the_zip_crate() {
        let dir = tempfile::tempdir().unwrap();
        let path = WheelBuilder::new("Friendly.Bard", "43!1.0")
            .requires_python(">=3.9")
            .build(dir.path())
            .unwrap();
        assert_eq!(
            path.file_name().unwrap(),
            "friendly_bard-43!1.0-py3-none-any.whl"
        );
        let mut zip = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().to_string()).collect();
        assert_eq!(
            names,
            [
                "friendly_bard/__init__.py",
                "friendly_bard-43!1.0.dist-info/METADATA",
                "friendly_bard-43!1.0.dist-info/WHEEL",
                "friendly_bard-43!1.0.dist-info/RECORD",
            ]
        );
        let mut record = String::new();
        zip.by_name("friendly_bard-43!1.0.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut record)
            .unwrap();
        let init = b"__version__ = \"43!1.0\"\n";
        assert!(
            record.contains(&format!(
                "friendly_bard/__init__.py,{},{}\n",
                record_hash(init),
                init.len()
            )),
            "{record}"
        );
        let mut metadata = String::new();
        zip.by_name("friendly_bard-43!1.0.dist-info/METADATA")
            .unwrap()
            .read_to_string(&mut metadata)
            .unwrap();
        assert!(metadata.contains("Requires-Python: >=3.9\n"));
    }

    #[test]
    fn a_streamed_payload_has_the_right_crc_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = WheelBuilder::new("big", "1.0")
            .payload_size(3 * 1024 * 1024 + 5)
            .build(dir.path())
            .unwrap();
        let mut zip = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        let mut bytes = Vec::new();
        // The zip crate checks the CRC at the end of the entry.
        zip.by_name("big/_payload.bin")
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), 3 * 1024 * 1024 + 5);
        let mut record = String::new();
        zip.by_name("big-1.0.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut record)
            .unwrap();
        assert!(record.contains(&record_hash(&bytes)));
    }

    #[test]
    fn deflated_zeros_inflate_to_the_requested_length() {
        for len in [0u64, 1, 1 << 20, (3 << 20) + 12345] {
            let stream = deflate_zeros(len).unwrap();
            let mut inflated = Vec::new();
            flate2::read::DeflateDecoder::new(&stream[..])
                .read_to_end(&mut inflated)
                .unwrap();
            assert_eq!(inflated.len() as u64, len);
            assert!(inflated.iter().all(|&b| b == 0));
            assert_eq!(crc32_of_zeros(len), crc32(&inflated));
        }
        // Small on disk: a GiB of zeros in about a MiB.
        assert!(deflate_zeros(1 << 30).unwrap().len() < 2 << 20);
    }

    #[test]
    fn sdists_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let tgz = SdistBuilder::new("foo-bar", "1.0")
            .build(dir.path())
            .unwrap();
        assert_eq!(tgz.file_name().unwrap(), "foo_bar-1.0.tar.gz");
        let gz = flate2::read::GzDecoder::new(File::open(&tgz).unwrap());
        let mut archive = tar::Archive::new(gz);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "foo_bar-1.0/PKG-INFO",
                "foo_bar-1.0/pyproject.toml",
                "foo_bar-1.0/foo_bar/__init__.py"
            ]
        );

        let zip_path = SdistBuilder::new("foo-bar", "1.0")
            .zip()
            .extra_entry("../evil.py", b"x")
            .build(dir.path())
            .unwrap();
        let zip = zip::ZipArchive::new(File::open(&zip_path).unwrap()).unwrap();
        assert!(zip.file_names().any(|n| n.unwrap() == "../evil.py"));
    }

    #[test]
    fn hostile_tar_names_are_written_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = SdistBuilder::new("x", "1.0")
            .extra_entry("../evil.py", b"x")
            .build(dir.path())
            .unwrap();
        let gz = flate2::read::GzDecoder::new(File::open(&path).unwrap());
        let mut archive = tar::Archive::new(gz);
        let found = archive
            .entries()
            .unwrap()
            .any(|e| &*e.unwrap().path_bytes() == b"../evil.py");
        assert!(found);
    }
}

#[cfg(test)]
mod pip_tests {
    use super::*;
    use std::process::Command;

    /// The real consumer: pip installs the wheel and Python imports it.
    #[test]
    fn pip_installs_and_imports_the_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = WheelBuilder::new("Dace-X", "43!2026.2.3")
            .tag("py2.py3-none-any")
            .build_tag("1")
            .requires_python(">=3.8")
            .payload_size(100_000)
            .build(dir.path())
            .unwrap();
        let target = dir.path().join("site");
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--no-index", "--no-deps"])
            .arg("--target")
            .arg(&target)
            .arg(&wheel)
            .status()
            .unwrap();
        assert!(status.success());
        let out = Command::new("python3")
            .args(["-c", "import dace_x; print(dace_x.__version__)"])
            .env("PYTHONPATH", &target)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "43!2026.2.3");
    }
}
