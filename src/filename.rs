//! Distribution filenames: PEP 427 wheels and `.tar.gz` / `.zip` sdists.
//! (API fixed; implementation in progress.)

use crate::name::ProjectName;
use pep440_rs::Version;

/// What kind of distribution a filename names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistKind {
    Wheel,
    SdistTarGz,
    SdistZip,
}

/// The tag part of a wheel filename; each set is expanded from its compressed form
/// (`py2.py3` → `["py2", "py3"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelTags {
    pub build: Option<String>,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

/// A parsed, valid distribution filename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFilename {
    filename: String,
    project: ProjectName,
    version: Version,
    kind: DistKind,
    wheel_tags: Option<WheelTags>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    #[error("todo")]
    Todo,
}

impl DistFilename {
    pub fn parse(filename: &str) -> Result<Self, FilenameError> {
        let _ = filename;
        todo!()
    }
    /// The filename exactly as given.
    pub fn as_str(&self) -> &str {
        &self.filename
    }
    pub fn project(&self) -> &ProjectName {
        &self.project
    }
    pub fn version(&self) -> &Version {
        &self.version
    }
    pub fn kind(&self) -> DistKind {
        self.kind
    }
    pub fn wheel_tags(&self) -> Option<&WheelTags> {
        self.wheel_tags.as_ref()
    }
}
