//! An sdist's bytes (`.tar.gz`): gzip, tar headers, links, PKG-INFO at the top.
#![no_main]

use gt4py_publish::dist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = dist::validate_bytes("gt4py_demo-0.1.0.tar.gz", data) {
        assert!(file.metadata_bytes.is_none());
    }
});
