//! The index pages as data: a project page (`NAME/index.html`, one link per file) and the root
//! page (`index.html`, one link per project).
//!
//! Everything here is pure: pages are parsed from bytes and rendered to a `String`, with no I/O,
//! so the planner can compare states and the tests need no files. The page is the state of the
//! index (DESIGN.md §1): parsing must keep every file and hash a page lists — including pages
//! written by the legacy `generator.py` — and rendering must give the same bytes for the same
//! state, so that a re-publish changes nothing.

mod html;
mod page_lines;
mod project_page;
mod root_page;

/// Percent-encodes a filename as pages link it (also used for the file URLs a run reports).
pub use html::encode_href_path;
pub use project_page::{FileEntry, ParsedPage, ProjectPage, is_plain_filename};
pub use root_page::{ParsedRootPage, RootPage};

/// A page too broken to read at all. Odd links are not errors: they come back as warnings next
/// to the parsed page, so that one bad line never hides the rest of an index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error(
        "{page} is not valid UTF-8 (first invalid byte at offset {offset}); rebuild it from the \
         files with `gt4py-publish regenerate`, or fix the page by hand"
    )]
    NotUtf8 { page: String, offset: usize },
    #[error(
        "{page} is {size} bytes, more than the {limit} bytes a page may have; rebuild it from \
         the files with `gt4py-publish regenerate`, or fix the page by hand"
    )]
    TooLarge {
        page: String,
        size: usize,
        limit: usize,
    },
}

/// Far above any real page (10,000 files make about 4 MB) and far below the 4 GiB where the
/// tokenizer's buffers overflow, so no input can make parsing panic.
const MAX_PAGE_BYTES: usize = 256 * 1024 * 1024;

/// The text of a page, or why it cannot be read. `page` names it in the error message.
fn page_text(html: &[u8], page: impl FnOnce() -> String) -> Result<&str, PageError> {
    if html.len() > MAX_PAGE_BYTES {
        return Err(PageError::TooLarge {
            page: page(),
            size: html.len(),
            limit: MAX_PAGE_BYTES,
        });
    }
    // Pages are written as UTF-8 and served as such; guessing another encoding could silently
    // turn a filename into a different one.
    std::str::from_utf8(html).map_err(|e| PageError::NotUtf8 {
        page: page(),
        offset: e.valid_up_to(),
    })
}

/// A string for a warning message: quoted as-is, but cut short if a page holds something huge.
fn shown(s: &str) -> String {
    const MAX_CHARS: usize = 120;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("`{}…`", s.get(..cut).unwrap_or(s)),
        None => format!("`{s}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_utf8_page_names_the_page_and_the_way_out() {
        let err = page_text(b"<a href=x>\xff</a>", || "the root page".to_string()).unwrap_err();
        assert_eq!(
            err,
            PageError::NotUtf8 {
                page: "the root page".to_string(),
                offset: 10
            }
        );
        let message = err.to_string();
        assert!(message.contains("the root page"), "{message}");
        assert!(message.contains("gt4py-publish regenerate"), "{message}");
    }

    #[test]
    fn long_strings_are_cut_in_warnings() {
        assert_eq!(shown("abc"), "`abc`");
        let long = "é".repeat(500);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), 120 + 3);
        assert!(cut.ends_with("…`"));
    }
}
