//! The answers the GitHub client deserializes: Git Trees listings, content objects (the blob
//! sha of a file), write answers, refs, commits and created objects (Git Data API), and the
//! `message` of error bodies. Any bytes give a value or an error.
#![no_main]

use gt4py_publish::github::client::error_message;
use gt4py_publish::github::contents::{ContentObject, Tree, WriteAnswer};
use gt4py_publish::github::git_data::{CommitAnswer, RefAnswer, ShaAnswer};
use libfuzzer_sys::fuzz_target;
use reqwest::StatusCode;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<Tree>(data);
    let _ = serde_json::from_slice::<ContentObject>(data);
    let _ = serde_json::from_slice::<WriteAnswer>(data);
    let _ = serde_json::from_slice::<RefAnswer>(data);
    let _ = serde_json::from_slice::<CommitAnswer>(data);
    let _ = serde_json::from_slice::<ShaAnswer>(data);
    for status in [
        StatusCode::FORBIDDEN,
        StatusCode::BAD_GATEWAY,
        StatusCode::from_u16(599).unwrap(),
    ] {
        let message = error_message(data, status);
        assert!(!message.is_empty());
        assert!(!message.contains('\n'), "{message:?}");
    }
});
