//! The index's release assets as an [`AssetStore`]: one release (`--asset-release`, created on
//! the first upload) whose assets the pages link, and the site's size from one recursive tree
//! listing of the snapshot (the Pages budget).

use serde::Deserialize;

use super::client::JSON;
use super::contents::GitHubTarget;
use super::error::GitHubError;
use super::releases::{Asset, Release};
use crate::report::Reporter;
use crate::target::{AssetStore, AssetUpload, StoredAsset, TargetError};

#[derive(Deserialize)]
struct Tree {
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    size: Option<u64>,
}

impl GitHubTarget<'_> {
    /// The release, found (or created when `create`) once per run.
    fn release(&self, create: bool) -> Result<Option<Release>, GitHubError> {
        if let Ok(cache) = self.release_cache.lock()
            && let Some(release) = cache.as_ref()
        {
            return Ok(Some(release.clone()));
        }
        let release = self.asset_release(&self.asset_release, create)?;
        if let (Some(found), Ok(mut cache)) = (&release, self.release_cache.lock()) {
            *cache = Some(found.clone());
        }
        Ok(release)
    }

    /// Bytes of every file on the branch at the snapshot (what Pages publishes).
    pub(super) fn tree_size(&self) -> Result<u64, GitHubError> {
        if let Some(tree) = self.full_tree()?
            && !tree.truncated
        {
            return Ok(tree.size());
        }
        let at = self
            .pinned()
            .map(|p| p.commit)
            .unwrap_or_else(|| self.branch().to_string());
        let path = format!(
            "{}/git/trees/{}?recursive=1",
            self.base,
            percent_encoding::utf8_percent_encode(&at, percent_encoding::NON_ALPHANUMERIC)
        );
        let tree: Tree = self
            .client
            .get_json(&path, JSON)
            .map_err(|e| self.repo_error(e))?;
        if tree.truncated {
            return Err(GitHubError::InvalidResponse {
                method: "GET".into(),
                path,
                detail: "GitHub truncated the recursive tree listing (over 100,000 files)".into(),
            });
        }
        Ok(tree
            .tree
            .iter()
            .filter(|e| e.kind == "blob")
            .filter_map(|e| e.size)
            .fold(0u64, u64::saturating_add))
    }
}

fn stored(asset: Asset) -> StoredAsset {
    StoredAsset {
        id: Some(asset.id),
        name: asset.name,
        size: asset.size,
        sha256: asset.sha256,
        url: asset.url,
    }
}

impl AssetStore for GitHubTarget<'_> {
    fn asset_location(&self) -> String {
        format!("{} release {}", self.repo(), self.asset_release)
    }

    fn list_assets(&self) -> Result<Vec<StoredAsset>, TargetError> {
        let Some(release) = self.release(false)? else {
            return Ok(Vec::new());
        };
        Ok(GitHubTarget::list_assets(self, &release)?
            .into_iter()
            .map(stored)
            .collect())
    }

    fn put_asset(
        &self,
        upload: &AssetUpload,
        _reporter: &dyn Reporter,
    ) -> Result<StoredAsset, TargetError> {
        self.require_token()?;
        let Some(release) = self.release(true)? else {
            return Err(TargetError::from(GitHubError::InvalidResponse {
                method: "POST".into(),
                path: format!("{}/releases", self.base),
                detail: format!("the release {} could not be created", self.asset_release),
            }));
        };
        Ok(stored(self.upload_asset(
            &release,
            &upload.name,
            &upload.source,
            &upload.sha256,
            upload.content_type,
        )?))
    }

    fn delete_asset(&self, asset: &StoredAsset) -> Result<(), TargetError> {
        self.require_token()?;
        if let Some(id) = asset.id {
            return Ok(self.delete_asset_id(id, &asset.name)?);
        }
        // Not read from this store, so only its name says which it is.
        let Some(release) = self.release(false)? else {
            return Ok(());
        };
        let found = GitHubTarget::list_assets(self, &release)?
            .into_iter()
            .find(|a| a.name == asset.name);
        match found {
            Some(found) => Ok(GitHubTarget::delete_asset(self, &found)?),
            None => Ok(()),
        }
    }
}
