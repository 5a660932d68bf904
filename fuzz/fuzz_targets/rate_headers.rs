//! Rate-limit headers (`retry-after`, `x-ratelimit-remaining`, `x-ratelimit-reset`) as any
//! server could send them, through the parsing, the retry classification and the wait computed
//! from them.
//!
//! Input: up to three lines, the values of the three headers (a line that is not a valid header
//! value leaves that header out); the first byte also picks the status and the retry number.
#![no_main]

use std::time::Duration;

use gt4py_publish::github::RetryPolicy;
use gt4py_publish::github::client::{RateHeaders, classify, parse_retry_after};
use libfuzzer_sys::fuzz_target;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut headers = HeaderMap::new();
    let names = [
        RETRY_AFTER,
        HeaderName::from_static("x-ratelimit-remaining"),
        HeaderName::from_static("x-ratelimit-reset"),
    ];
    for (name, value) in names.into_iter().zip(rest.split(|&b| b == b'\n')) {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(name, value);
        }
    }
    let rate = RateHeaders::from_headers(&headers);
    assert_eq!(
        rate.retry_after,
        parse_retry_after(headers.get(RETRY_AFTER))
    );
    let status = [403u16, 429, 500, 502, 503, 404][usize::from(selector % 6)];
    let status = StatusCode::from_u16(status).expect("valid status");
    let policy = RetryPolicy::default();
    let message = if selector & 0x80 == 0 {
        "You have exceeded a secondary rate limit"
    } else {
        "Not Found"
    };
    if let Some(kind) = classify(status, &rate, message) {
        // The client reads the system clock; a clock at the epoch is the edge case.
        for now in [0, 1_700_000_000 + u64::from(selector) * 1_000_003] {
            let delay = policy.delay(kind, &rate, u32::from(selector >> 4), now);
            // The retry loop adds waits up against its budget.
            let _ = Duration::from_secs(1).saturating_add(delay).as_secs();
        }
    }
});
