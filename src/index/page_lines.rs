//! A page of ours kept as its text and cut into link lines, so that adding one file to a page of
//! thousands copies the other lines instead of parsing and rendering each of them again.
//!
//! This module only knows where things are: each line's bytes, the text of its link (the key a
//! file is looked up by) and the path of its href. What a line means is `project_page`'s job.

use std::ops::Range;
use std::sync::Arc;

use super::html;

/// The link lines of a page in exactly our layout (head, one `    <a href="…"…>TEXT</a><br>`
/// per line, tail).
#[derive(Debug, Clone)]
pub(crate) struct PageLines {
    text: Arc<str>,
    links: Range<usize>,
    lines: Vec<Span>,
}

/// Offsets into the text; `u32` is enough, pages are capped far below 4 GiB.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// First byte of the line.
    start: u32,
    /// The link's text, still escaped as the page has it.
    key: (u32, u32),
    /// The href up to its `#` fragment, still escaped.
    path: (u32, u32),
}

const LINE_START: &str = "    <a href=\"";
const LINE_END: &str = "</a><br>";

impl PageLines {
    /// Cuts `text` into lines; `None` unless it has exactly the head we write for `title`, our
    /// tail, and only link lines in our layout between them.
    pub(crate) fn read(text: &str, title: &str) -> Option<PageLines> {
        if u32::try_from(text.len()).is_err() {
            return None;
        }
        let links = html::own_links_range(text, title)?;
        let mut lines = Vec::with_capacity(text.len() / 300 + 1);
        let mut at = links.start;
        // One vectorized pass over the body for its newlines: cutting a 1,000-line page is
        // most of what a publish spends on it.
        for end in memchr::memchr_iter(b'\n', &text.as_bytes()[links.start..links.end]) {
            let end = links.start + end;
            lines.push(span(text, at, end)?);
            at = end + 1;
        }
        if at != links.end {
            return None;
        }
        Some(PageLines {
            text: Arc::from(text),
            links,
            lines,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    /// Line `i` without its newline.
    pub(crate) fn line(&self, i: usize) -> &str {
        let start = self.lines[i].start as usize;
        &self.text[start..self.end(i)]
    }

    /// The escaped text of line `i`'s link.
    pub(crate) fn key(&self, i: usize) -> &str {
        let (a, b) = self.lines[i].key;
        &self.text[a as usize..b as usize]
    }

    /// The escaped href of line `i`, without its fragment.
    pub(crate) fn href_path(&self, i: usize) -> &str {
        let (a, b) = self.lines[i].path;
        &self.text[a as usize..b as usize]
    }

    /// The lines whose link text is `escaped_key`, in page order.
    pub(crate) fn find<'a>(&'a self, escaped_key: &'a str) -> impl Iterator<Item = usize> + 'a {
        (0..self.lines.len()).filter(move |&i| {
            let (a, b) = self.lines[i].key;
            (b - a) as usize == escaped_key.len() && self.key(i) == escaped_key
        })
    }

    /// Everything before the first link line.
    pub(crate) fn head(&self) -> &str {
        &self.text[..self.links.start]
    }

    /// Everything after the last link line.
    pub(crate) fn tail(&self) -> &str {
        &self.text[self.links.end..]
    }

    /// Lines `range` with their newlines, as one slice of the page.
    pub(crate) fn lines_text(&self, range: Range<usize>) -> &str {
        if range.start >= range.end {
            return "";
        }
        let start = self.lines[range.start].start as usize;
        let end = self.end(range.end - 1) + 1;
        &self.text[start..end]
    }

    fn end(&self, i: usize) -> usize {
        self.lines[i].key.1 as usize + LINE_END.len()
    }
}

/// The span of the line `text[start..end]`, if it is a link line in our layout.
fn span(text: &str, start: usize, end: usize) -> Option<Span> {
    let line = text.get(start..end)?;
    let inner = line
        .strip_prefix(LINE_START)?
        .strip_suffix(LINE_END)?
        .as_bytes();
    // Searched as bytes: an ASCII byte never occurs inside a multi-byte character, so every
    // offset found is a character boundary of the text.
    let href_len = memchr::memchr(b'"', inner)?;
    let path_len = memchr::memchr(b'#', &inner[..href_len]).unwrap_or(href_len);
    // The text holds no `>` (it is escaped), so the last one closes the start tag.
    let text_at = memchr::memrchr(b'>', inner)? + 1;
    if text_at <= href_len + 1
        || inner[text_at - 2] != b'"'
        || memchr::memchr(b'<', &inner[text_at..]).is_some()
    {
        return None;
    }
    let base = start + LINE_START.len();
    let at = |offset: usize| u32::try_from(base + offset).ok();
    Some(Span {
        start: u32::try_from(start).ok()?,
        key: (at(text_at)?, at(inner.len())?),
        path: (at(0)?, at(path_len)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lines: &[&str]) -> String {
        let mut out = String::new();
        html::push_page_head(&mut out, "Links for x");
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
        html::push_page_tail(&mut out);
        out
    }

    const A: &str = "    <a href=\"x-1.0.tar.gz#sha256=ab\" data-yanked=\"\">x-1.0.tar.gz</a><br>";
    const B: &str = "    <a href=\"x-0.9%2Bl.tar.gz\">x-0.9+l.tar.gz</a><br>";

    #[test]
    fn cuts_our_pages_into_lines_with_their_keys_and_paths() {
        let text = page(&[A, B]);
        let lines = PageLines::read(&text, "Links for x").unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines.line(0), A);
        assert_eq!(lines.line(1), B);
        assert_eq!(lines.key(0), "x-1.0.tar.gz");
        assert_eq!(lines.href_path(0), "x-1.0.tar.gz");
        assert_eq!(lines.key(1), "x-0.9+l.tar.gz");
        assert_eq!(lines.href_path(1), "x-0.9%2Bl.tar.gz");
        assert_eq!(lines.find("x-0.9+l.tar.gz").collect::<Vec<_>>(), [1]);
        assert_eq!(lines.find("x-0.9").count(), 0);
        let rebuilt = format!("{}{}{}", lines.head(), lines.lines_text(0..2), lines.tail());
        assert_eq!(rebuilt, text);
        assert_eq!(lines.lines_text(1..2), format!("{B}\n"));
        assert_eq!(lines.lines_text(1..1), "");
    }

    #[test]
    fn an_empty_page_has_no_lines() {
        let text = page(&[]);
        let lines = PageLines::read(&text, "Links for x").unwrap();
        assert_eq!(lines.len(), 0);
        assert_eq!(format!("{}{}", lines.head(), lines.tail()), text);
    }

    #[test]
    fn anything_but_our_layout_is_refused() {
        for bad in [
            page(&["<a href=\"x-1.0.tar.gz\">x-1.0.tar.gz</a><br>"]),
            page(&["    <a data-yanked=\"\" href=\"x.tar.gz\">x.tar.gz</a><br>"]),
            page(&["    <a href=\"x.tar.gz\">x.tar.gz</a>"]),
            page(&["    <a href=\"x.tar.gz\">x<b>.tar.gz</a><br>"]),
            page(&["    <a href=\"x.tar.gz>x.tar.gz</a><br>"]),
            page(&[A]).replace("</html>\n", "</html>"),
            page(&[A]).replace("Links for x", "Links for y"),
            format!("{}<!-- -->\n", page(&[A])),
        ] {
            assert!(PageLines::read(&bad, "Links for x").is_none(), "{bad}");
        }
    }
}
