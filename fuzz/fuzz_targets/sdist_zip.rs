//! An sdist's bytes (`.zip`): zip structure, entry names, PKG-INFO at the top.
#![no_main]

use gt4py_publish::dist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = dist::validate_bytes("gt4py_demo-0.1.0.zip", data) {
        assert!(file.metadata_bytes.is_none());
    }
});
