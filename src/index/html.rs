//! The HTML side of the index pages: reading the `<a>` tags out of any page (ours, the legacy
//! `generator.py` pages, hand-edited ones) and the escaping used when writing them.
//!
//! Reading goes through the html5ever tokenizer rather than a DOM: a page is a flat list of
//! links, and the tokenizer already does the hard parts the way a browser (and pip) would —
//! upper-case tags, unquoted attributes, entities inside attribute values, stray `</br>`.

use std::cell::RefCell;

use html5ever::TokenizerResult;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, CharacterTokens, EndTag, StartTag, TagToken, Token, TokenSink, TokenSinkResult,
    Tokenizer, TokenizerOpts,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// One `<a>` start tag, its attributes (entities already decoded) and the text up to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    /// 1-based line of the tag, so warnings can point at the page.
    pub line: u64,
    /// Attribute names are lower case; a repeated attribute keeps its first value (as browsers do).
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

impl Anchor {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Collects every `<a>` of `page`, in page order. Never fails: HTML has no syntax errors that
/// stop a browser, and neither do we.
pub(crate) fn extract_anchors(page: &str) -> Vec<Anchor> {
    let tokenizer = Tokenizer::new(AnchorSink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    // Tendrils hold at most 4 GiB each; small chunks keep us far from that on any input.
    for chunk in chunks_on_char_boundaries(page, 64 * 1024) {
        input.push_back(StrTendril::from_slice(chunk));
    }
    // Our sink only ever answers `Continue` or `RawData`, so the tokenizer never stops early for
    // a script or an encoding change; the loop is only a guard against that changing upstream.
    while !matches!(tokenizer.feed(&input), TokenizerResult::Done) {}
    tokenizer.end();
    let mut state = tokenizer.sink.state.into_inner();
    state.close_anchor();
    state.anchors
}

/// The first bytes of every page we write, up to the title text.
const OWN_HEAD: &str = "<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    \
                        <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>";
const OWN_TAIL: &str = "  </body>\n</html>\n";

/// Reads the anchors of a page in exactly the form this tool renders (one anchor per line,
/// double-quoted attributes, the entities of [`push_escaped`]) without the general
/// tokenizer, which costs several microseconds per link: re-reading a 10,000-file page on every
/// publish must stay cheap. `None` on any deviation; the caller then uses [`extract_anchors`],
/// so a page edited by hand or written by another tool is still read the way a browser would.
pub(crate) fn extract_own_anchors(page: &str) -> Option<Vec<Anchor>> {
    let after_head = page.strip_prefix(OWN_HEAD)?;
    let (_, body) = after_head.split_once("</h1>\n")?;
    let links = body.strip_suffix(OWN_TAIL)?;
    if !(links.is_empty() || links.ends_with('\n')) {
        return None;
    }
    let first_line = page[..page.len() - body.len()].matches('\n').count() as u64 + 1;
    links
        .split_terminator('\n')
        .enumerate()
        .map(|(i, line)| parse_own_line(line, first_line + i as u64))
        .collect()
}

/// Reads one link line in exactly the form this tool renders (`    <a ATTRS>TEXT</a><br>`);
/// `None` on any deviation.
pub(crate) fn parse_own_line(line: &str, number: u64) -> Option<Anchor> {
    let inner = line.strip_prefix("    <a ")?.strip_suffix("</a><br>")?;
    let mut attrs: Vec<(String, String)> = Vec::new();
    let mut rest = inner;
    let text = loop {
        let (name, after) = rest.split_once("=\"")?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            return None;
        }
        let (value, after) = after.split_once('"')?;
        let value = unescape_own(value)?;
        if !attrs.iter().any(|(n, _)| n == name) {
            attrs.push((name.to_string(), value));
        }
        if let Some(next) = after.strip_prefix(' ') {
            rest = next;
        } else {
            break after.strip_prefix('>')?;
        }
    };
    Some(Anchor {
        line: number,
        attrs,
        text: unescape_own(text)?,
    })
}

/// The head and tail this tool writes around the links of a page titled `title`, when `page`
/// has exactly them: the byte range of the links between (whole lines, each ending in `\n`).
pub(crate) fn own_links_range(page: &str, title: &str) -> Option<std::ops::Range<usize>> {
    let mut head = String::with_capacity(OWN_HEAD.len() + 2 * title.len() + 64);
    push_page_head(&mut head, title);
    let body = page.strip_prefix(head.as_str())?.strip_suffix(OWN_TAIL)?;
    if !(body.is_empty() || body.ends_with('\n')) {
        return None;
    }
    Some(head.len()..head.len() + body.len())
}

/// Undoes [`push_escaped`]; `None` for anything it would not have written.
pub(crate) fn unescape_own(s: &str) -> Option<String> {
    let mut has_entity = false;
    for b in s.bytes() {
        match b {
            b'<' | b'>' | b'"' | b'\'' | b'\r' | 0 => return None,
            b'&' => has_entity = true,
            _ => {}
        }
    }
    if !has_entity {
        return Some(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (entity, c) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
            ("&#13;", '\r'),
        ]
        .into_iter()
        .find(|(entity, _)| rest.starts_with(entity))?;
        out.push(c);
        rest = &rest[entity.len()..];
    }
    out.push_str(rest);
    Some(out)
}

/// Splits `s` into pieces of about `max` bytes without cutting a UTF-8 sequence.
fn chunks_on_char_boundaries(s: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = s;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = max.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

#[derive(Default)]
struct AnchorSink {
    // The tokenizer hands the sink `&self`; interior mutability is its intended pattern.
    state: RefCell<SinkState>,
}

#[derive(Default)]
struct SinkState {
    anchors: Vec<Anchor>,
    open: Option<Anchor>,
}

impl SinkState {
    fn close_anchor(&mut self) {
        if let Some(anchor) = self.open.take() {
            self.anchors.push(anchor);
        }
    }
}

impl TokenSink for AnchorSink {
    type Handle = ();

    fn process_token(&self, token: Token, line_number: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            TagToken(tag) => {
                let name: &str = &tag.name;
                match (tag.kind, name) {
                    (StartTag, "a") => {
                        // `<a>` cannot nest: a new one ends the previous one, as in a browser.
                        state.close_anchor();
                        let mut attrs: Vec<(String, String)> = Vec::with_capacity(tag.attrs.len());
                        for attr in &tag.attrs {
                            let attr_name: &str = &attr.name.local;
                            if !attrs.iter().any(|(n, _)| n == attr_name) {
                                attrs.push((attr_name.to_string(), attr.value.to_string()));
                            }
                        }
                        state.open = Some(Anchor {
                            line: line_number,
                            attrs,
                            text: String::new(),
                        });
                    }
                    (EndTag, "a") => state.close_anchor(),
                    // Without a tree builder the tokenizer does not know that these elements hold
                    // raw text; telling it keeps an `<a` inside a script or title from being
                    // mistaken for a link.
                    (StartTag, "title" | "textarea") => {
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                    (StartTag, "style" | "xmp" | "iframe" | "noembed" | "noframes") => {
                        return TokenSinkResult::RawData(RawKind::Rawtext);
                    }
                    (StartTag, "script") => {
                        return TokenSinkResult::RawData(RawKind::ScriptData);
                    }
                    (StartTag, "plaintext") => return TokenSinkResult::Plaintext,
                    _ => {}
                }
            }
            CharacterTokens(text) => {
                if let Some(anchor) = state.open.as_mut() {
                    anchor.text.push_str(&text);
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// What an href leaves unencoded: the URL "unreserved" set plus `!`, which epoch versions
/// (`43!2026.2.3`) put in nearly every filename and which needs no encoding in a path.
const HREF_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!');

/// Percent-encodes a filename for use as a relative href.
pub fn encode_href_path(filename: &str) -> String {
    utf8_percent_encode(filename, HREF_KEEP).to_string()
}

/// Appends `s` escaped for an attribute value or element text: the five markup entities, and
/// CR as `&#13;`, so that every value except NUL (which HTML cannot carry) reads back as it was.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    // Runs without special characters are copied whole: rendering a 10,000-file page is mostly
    // this function, and filenames and hashes rarely need an entity.
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            // A raw CR would be read back as LF (HTML turns CR and CRLF into LF).
            b'\r' => "&#13;",
            _ => continue,
        };
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(&s[start..i]);
        out.push_str(entity);
        start = i + 1;
    }
    out.push_str(&s[start..]);
}

/// The start of every page we write, up to and including the `<h1>`.
pub(crate) fn push_page_head(out: &mut String, title: &str) {
    out.push_str("<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n");
    out.push_str("    <meta name=\"pypi:repository-version\" content=\"1.1\">\n");
    out.push_str("    <title>");
    push_escaped(out, title);
    out.push_str("</title>\n  </head>\n  <body>\n    <h1>");
    push_escaped(out, title);
    out.push_str("</h1>\n");
}

/// The end of every page we write.
pub(crate) fn push_page_tail(out: &mut String) {
    out.push_str("  </body>\n</html>\n");
}

/// Whether an href is an absolute URL (`scheme:…`, `//host/…`) or an absolute path (`/…`):
/// either way it does not name a file stored next to the page.
pub(crate) fn is_absolute(href: &str) -> bool {
    if href.starts_with('/') || href.starts_with('\\') {
        return true;
    }
    // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":", before any `/?#`.
    let Some((scheme, _)) = href.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_pages_read_the_same_without_the_tokenizer() {
        let mut page = String::new();
        push_page_head(&mut page, "Links for a&b");
        for (href, attrs, text) in [
            (
                "x-1.0.whl#sha256=ab",
                vec![("data-requires-python", ">=3.9, !=3.10.*")],
                "x-1.0.whl",
            ),
            (
                "x-2%2Bcu1.whl",
                vec![
                    ("data-yanked", "bad \"build\" <'&'>"),
                    ("data-yanked", "dup"),
                ],
                "x-2+cu1.whl",
            ),
            (
                "y.tar.gz",
                vec![("data-core-metadata", "sha256=00")],
                "y.tar.gz",
            ),
        ] {
            page.push_str("    <a href=\"");
            push_escaped(&mut page, href);
            page.push('"');
            for (name, value) in attrs {
                page.push_str(&format!(" {name}=\""));
                push_escaped(&mut page, value);
                page.push('"');
            }
            page.push('>');
            push_escaped(&mut page, text);
            page.push_str("</a><br>\n");
        }
        push_page_tail(&mut page);
        let fast = extract_own_anchors(&page).expect("our own format");
        assert_eq!(fast, extract_anchors(&page));
        assert_eq!(fast.len(), 3);
        assert_eq!(fast[1].attr("data-yanked"), Some("bad \"build\" <'&'>"));
    }

    #[test]
    fn anything_else_goes_to_the_tokenizer() {
        let mut page = String::new();
        push_page_head(&mut page, "Links for x");
        page.push_str("    <a href=\"x.whl\">x.whl</a><br>\n");
        push_page_tail(&mut page);
        assert!(extract_own_anchors(&page).is_some());
        for edited in [
            page.replace("<br>", "</br>"),
            page.replace("href=\"x.whl\"", "href='x.whl'"),
            page.replace("href=\"x.whl\"", "HREF=\"x.whl\""),
            page.replace("x.whl</a>", "x&nbsp;.whl</a>"),
            page.replace("x.whl</a>", "<b>x.whl</b></a>"),
            page.replace("  </body>", "  <p>hi</p>\n  </body>"),
            page.replace("\n", "\r\n"),
        ] {
            assert_eq!(extract_own_anchors(&edited), None, "{edited}");
        }
        let legacy = include_str!("../../tests/fixtures/legacy-index/gt4py-index/dace/index.html");
        assert_eq!(extract_own_anchors(legacy), None);
    }

    fn anchors(page: &str) -> Vec<(Vec<(String, String)>, String)> {
        extract_anchors(page)
            .into_iter()
            .map(|a| (a.attrs, a.text))
            .collect()
    }

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_anchors_the_way_a_browser_does() {
        let page = "<A HREF=x.whl data-requires-python=&gt;=3.9>x.whl</A> </br>\n\
                    <a href='y.whl' href=\"ignored\">y &amp; z</a>\n\
                    <a href=\"z.whl\">unterminated\n\
                    <a href=\"w.whl\">w";
        assert_eq!(
            anchors(page),
            vec![
                (
                    attrs(&[("href", "x.whl"), ("data-requires-python", ">=3.9")]),
                    "x.whl".to_string()
                ),
                (attrs(&[("href", "y.whl")]), "y & z".to_string()),
                (attrs(&[("href", "z.whl")]), "unterminated\n".to_string()),
                (attrs(&[("href", "w.whl")]), "w".to_string()),
            ]
        );
    }

    #[test]
    fn ignores_links_inside_comments_scripts_and_titles() {
        let page = "<title><a href=t></title><!-- <a href=c> --><script>'<a href=s>'</script>\
                    <style><a href=y></style><a href=real>real</a>";
        assert_eq!(
            anchors(page),
            vec![(attrs(&[("href", "real")]), "real".to_string())]
        );
    }

    #[test]
    fn reports_line_numbers() {
        let found = extract_anchors("<html>\n\n<a href=a>a</a>\r\n<a href=b>b</a>");
        let lines: Vec<u64> = found.iter().map(|a| a.line).collect();
        assert_eq!(lines, vec![3, 4]);
    }

    #[test]
    fn survives_input_split_inside_multibyte_characters() {
        let text = "é".repeat(100_000);
        let page = format!("<a href=x>{text}</a>");
        let found = extract_anchors(&page);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text, text);
    }

    #[test]
    fn encodes_hrefs_keeping_only_safe_bytes() {
        assert_eq!(
            encode_href_path("dace-43!2026.2.3+local.1-py3-none-any.whl"),
            "dace-43!2026.2.3%2Blocal.1-py3-none-any.whl"
        );
        assert_eq!(encode_href_path("a b#c?d/é~"), "a%20b%23c%3Fd%2F%C3%A9~");
    }

    #[test]
    fn escapes_markup_characters() {
        let mut out = String::new();
        push_escaped(&mut out, r#"<a href="x">'&'</a>"#);
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn tells_absolute_urls_from_relative_ones() {
        for href in [
            "https://x/y.whl",
            "//host/y.whl",
            "/dace/y.whl",
            "file:y",
            "C:\\y",
        ] {
            assert!(is_absolute(href), "{href}");
        }
        for href in ["y.whl", "./y.whl", "a%3Ab.whl", "1:2.whl", "dace/y.whl", ""] {
            assert!(!is_absolute(href), "{href}");
        }
    }
}
