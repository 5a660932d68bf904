//! A wheel's bytes through the whole validation (zip structure, dist-info, METADATA, WHEEL,
//! RECORD and every entry's hash). The filename is the demo wheel's, so the seeds (real wheels of
//! that name) get past the name checks and the mutations reach the deep ones.
#![no_main]

use gt4py_publish::dist;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = dist::validate_bytes("gt4py_demo-0.1.0-py3-none-any.whl", data) {
        // Whatever passes must carry what publishing relies on.
        assert!(file.metadata_bytes.is_some());
        assert_eq!(file.digests.size, data.len() as u64);
    }
});
