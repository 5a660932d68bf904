//! Helpers shared by the unit tests of the `dist` submodules.

use std::path::Path;

use super::{DistErrorReason, validate};

/// The reason `path` is refused; panics if it passes or the error names another file.
pub(super) fn reason(path: &Path) -> DistErrorReason {
    match validate(path) {
        Ok(dist) => panic!("{} should be refused, got {dist:?}", path.display()),
        Err(e) => {
            assert_eq!(e.path, path);
            e.reason
        }
    }
}
