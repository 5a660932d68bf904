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
    let path = path.strip_suffix('/').unwrap_or(path);
    let name = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| "its percent-encoded name is not valid UTF-8".to_string())?;
    ProjectName::new(&name).map_err(|e| e.to_string())
}
