//! The root page (`index.html`): one link per project folder (PEP 503).

use std::collections::BTreeSet;

use percent_encoding::percent_decode_str;

use super::html;
use super::{PageError, page_text, shown};
use crate::name::ProjectName;

/// The projects of the index. Names are normalized, so `DaCe` and `dace` are one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootPage {
    projects: BTreeSet<ProjectName>,
}

/// A parsed root page and the links that could not be taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRootPage {
    pub page: RootPage,
    pub warnings: Vec<String>,
}

impl RootPage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a root page, ours or another generator's: `dace`, `dace/`, `/dace/`, `./dace/`,
    /// `dace/index.html` and `DaCe/` all name the project `dace`.
    pub fn parse(html: &[u8]) -> Result<ParsedRootPage, PageError> {
        let text = page_text(html, || "the root page".to_string())?;
        let mut page = Self::new();
        let mut warnings = Vec::new();
        for anchor in html::extract_anchors(text) {
            let href = anchor.attr("href").unwrap_or_default();
            let context = format!("line {}: link to {}", anchor.line, shown(href));
            match project_of(href) {
                Ok(project) => {
                    if !page.insert(project.clone()) {
                        warnings.push(format!("{context}: project `{project}` is listed again"));
                    }
                }
                Err(reason) => warnings.push(format!("{context} is not listed: {reason}")),
            }
        }
        Ok(ParsedRootPage { page, warnings })
    }

    /// The page in our format (DESIGN.md §1), projects sorted by name.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(512 + 64 * self.projects.len());
        html::push_page_head(&mut out, "Simple index");
        for project in &self.projects {
            // Normalized names are `[a-z0-9-]`: nothing to percent-encode, escaping is a
            // formality.
            out.push_str("    <a href=\"");
            html::push_escaped(&mut out, project.as_str());
            out.push_str("/\">");
            html::push_escaped(&mut out, project.as_str());
            out.push_str("</a><br>\n");
        }
        html::push_page_tail(&mut out);
        out
    }

    /// Adds `project`; returns whether the page changed.
    pub fn insert(&mut self, project: ProjectName) -> bool {
        self.projects.insert(project)
    }

    /// Removes `project`; returns whether the page changed.
    pub fn remove(&mut self, project: &ProjectName) -> bool {
        self.projects.remove(project)
    }

    pub fn contains(&self, project: &ProjectName) -> bool {
        self.projects.contains(project)
    }

    /// The projects, sorted by normalized name.
    pub fn projects(&self) -> impl Iterator<Item = &ProjectName> {
        self.projects.iter()
    }

    pub fn len(&self) -> usize {
        self.projects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.projects.is_empty()
    }
}

/// The project a root-page link points to.
fn project_of(href: &str) -> Result<ProjectName, String> {
    let href = href.trim_matches(|c: char| c.is_ascii_whitespace());
    // A fragment or query does not change which folder a link opens.
    let path = href.split(['#', '?']).next().unwrap_or_default();
    // `/dace/` is what the legacy generator's users sometimes wrote for a site at the root of
    // its host; accept it, but not `//host/…` or `scheme:…`.
    let path = match path.strip_prefix('/') {
        Some(rest) if !rest.starts_with('/') => rest,
        _ => path,
    };
    if html::is_absolute(path) {
        return Err(
            "it points away from the index (an absolute URL); only project folders of this \
             index can be listed"
                .to_string(),
        );
    }
    let path = path.strip_prefix("./").unwrap_or(path);
    let path = path.strip_suffix("/index.html").unwrap_or(path);
    // `index.html`, `about.html`: pages, not project folders, even if `about-html` would be a
    // valid project name.
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".html") || lower.ends_with(".htm") {
        return Err("it links to a page, not to a project folder".to_string());
    }
    let path = path.strip_suffix('/').unwrap_or(path);
    let name = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "its percent-encoded name is not valid UTF-8".to_string())?;
    ProjectName::new(&name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ProjectName {
        ProjectName::new(s).unwrap()
    }

    fn projects(page: &RootPage) -> Vec<&str> {
        page.projects().map(ProjectName::as_str).collect()
    }

    #[test]
    fn adopts_the_legacy_root_pages() {
        for path in ["gt4py-index/index.html", "test-index/index.html"] {
            let full = format!(
                "{}/tests/fixtures/legacy-index/{path}",
                env!("CARGO_MANIFEST_DIR")
            );
            let html = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
            let parsed = RootPage::parse(&html).unwrap();
            assert_eq!(parsed.warnings, Vec::<String>::new(), "{path}");
            assert_eq!(projects(&parsed.page), ["dace"], "{path}");
        }
    }

    #[test]
    fn reads_every_way_of_linking_a_project() {
        for href in [
            "dace",
            "dace/",
            "/dace/",
            "/dace",
            "./dace/",
            "./dace",
            "DaCe/",
            "DACE",
            " dace/ ",
            "dace/index.html",
            "dace/#top",
            "dace/?x=1",
            "%64ace/",
        ] {
            let parsed = RootPage::parse(format!("<a href=\"{href}\">x</a>").as_bytes()).unwrap();
            assert_eq!(parsed.warnings, Vec::<String>::new(), "{href}");
            assert_eq!(projects(&parsed.page), ["dace"], "{href}");
        }
        let parsed = RootPage::parse(b"<A HREF=Friendly.Bard/>x</A></br><a href=gt4py>").unwrap();
        assert_eq!(projects(&parsed.page), ["friendly-bard", "gt4py"]);
    }

    #[test]
    fn reports_links_that_name_no_project() {
        for (href, piece) in [
            ("https://pypi.org/simple/dace/", "absolute URL"),
            ("//example.com/dace/", "absolute URL"),
            ("../dace/", "not a valid project name"),
            ("a/b/", "not a valid project name"),
            ("..", "not a valid project name"),
            ("./", "not a valid project name"),
            ("", "not a valid project name"),
            ("da%20ce/", "not a valid project name"),
            ("%FF/", "not valid UTF-8"),
            ("myindex.html", "links to a page"),
            ("index.html", "links to a page"),
            ("./INDEX.HTM", "links to a page"),
        ] {
            let html = format!("<a href=\"{href}\">x</a>\n<a href=dace/>dace</a>");
            let parsed = RootPage::parse(html.as_bytes()).unwrap();
            assert_eq!(projects(&parsed.page), ["dace"], "{href}");
            assert_eq!(parsed.warnings.len(), 1, "{href}: {:?}", parsed.warnings);
            assert!(
                parsed.warnings[0].starts_with("line 1: link to ")
                    && parsed.warnings[0].contains(piece),
                "{href}: {:?} lacks {piece:?}",
                parsed.warnings
            );
        }
        let parsed = RootPage::parse(b"<a name=top>top</a>").unwrap();
        assert!(parsed.page.is_empty());
        assert_eq!(parsed.warnings.len(), 1);
    }

    #[test]
    fn a_project_linked_twice_is_listed_once_with_a_warning() {
        let parsed = RootPage::parse(b"<a href=dace/>dace</a>\n<a href=DaCe>DaCe</a>").unwrap();
        assert_eq!(projects(&parsed.page), ["dace"]);
        assert_eq!(
            parsed.warnings,
            ["line 2: link to `DaCe`: project `dace` is listed again"]
        );
    }

    #[test]
    fn renders_the_documented_layout_sorted_by_name() {
        let mut page = RootPage::new();
        assert!(page.insert(name("gt4py")));
        assert!(page.insert(name("DaCe")));
        assert!(page.insert(name("ghex")));
        assert!(!page.insert(name("dace")), "already there: no change");
        let expected = "<!DOCTYPE html>\n\
                        <html>\n  \
                          <head>\n    \
                            <meta charset=\"utf-8\">\n    \
                            <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
                            <title>Simple index</title>\n  \
                          </head>\n  \
                          <body>\n    \
                            <h1>Simple index</h1>\n    \
                            <a href=\"dace/\">dace</a><br>\n    \
                            <a href=\"ghex/\">ghex</a><br>\n    \
                            <a href=\"gt4py/\">gt4py</a><br>\n  \
                          </body>\n\
                        </html>\n";
        assert_eq!(page.render(), expected);
        assert_eq!(RootPage::parse(expected.as_bytes()).unwrap().page, page);
    }

    #[test]
    fn insert_and_remove_say_whether_the_page_changed() {
        let mut page = RootPage::new();
        assert!(page.is_empty());
        assert!(page.insert(name("dace")));
        assert!(page.contains(&name("DACE")));
        assert_eq!(page.len(), 1);
        assert!(page.remove(&name("dace")));
        assert!(!page.remove(&name("dace")));
        assert!(page.is_empty());
    }

    #[test]
    fn parse_after_render_gives_the_same_page() {
        let mut rng = fastrand::Rng::with_seed(3);
        const CHARS: &[u8] = b"abcXYZ019-_.";
        for _ in 0..200 {
            let mut page = RootPage::new();
            for _ in 0..rng.usize(0..30) {
                let len = rng.usize(1..12);
                let raw: String = (0..len)
                    .map(|_| char::from(CHARS[rng.usize(0..CHARS.len())]))
                    .collect();
                if let Ok(project) = ProjectName::new(&raw) {
                    page.insert(project);
                }
            }
            let html = page.render();
            let parsed = RootPage::parse(html.as_bytes()).unwrap();
            assert!(parsed.warnings.is_empty(), "{html}");
            assert_eq!(parsed.page, page, "{html}");
        }
    }

    #[test]
    fn a_root_page_that_is_not_utf8_is_an_error() {
        let message = RootPage::parse(b"<a href=\xff>").unwrap_err().to_string();
        assert!(message.contains("the root page"), "{message}");
        assert!(message.contains("regenerate"), "{message}");
    }
}
