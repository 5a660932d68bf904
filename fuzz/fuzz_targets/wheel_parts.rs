//! A wheel built from fuzzed parts: the input is split at NUL bytes into METADATA, WHEEL, RECORD,
//! one payload file and its name, and packed into a well-formed zip (right CRCs and sizes), so that the
//! mutations reach what `wheel` cannot get to past the CRC check: the METADATA, WHEEL and RECORD
//! parsers, the tag comparison and the RECORD verification.
#![no_main]

use std::io::{Cursor, Write};

use gt4py_publish::dist;
use libfuzzer_sys::fuzz_target;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const DIST_INFO: &str = "gt4py_demo-0.1.0.dist-info";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |&b| b == 0).filter(|p| !p.is_empty());
    let (Some(metadata), Some(wheel), Some(record)) = (parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let payload = parts.next().unwrap_or_default();
    let payload_name = parts
        .next()
        .and_then(|n| std::str::from_utf8(n).ok())
        .unwrap_or("gt4py_demo/__init__.py");

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let method = if payload.len() % 2 == 0 {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    let options = SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in [
        (payload_name.to_string(), payload),
        (format!("{DIST_INFO}/METADATA"), metadata),
        (format!("{DIST_INFO}/WHEEL"), wheel),
        (format!("{DIST_INFO}/RECORD"), record),
    ] {
        if zip.start_file(name, options).is_err() || zip.write_all(bytes).is_err() {
            return;
        }
    }
    let Ok(bytes) = zip.finish().map(Cursor::into_inner) else {
        return;
    };
    let _ = dist::validate_bytes("gt4py_demo-0.1.0-py3-none-any.whl", &bytes);
});
