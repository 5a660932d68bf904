//! The index's release assets as an [`AssetStore`]: one release (`--asset-release`, created on
//! the first upload) whose assets the pages link.

use super::contents::GitHubTarget;
use super::error::GitHubError;
use super::releases::{Asset, Release};
use crate::report::Reporter;
use crate::target::{AssetStore, AssetUpload, StoredAsset, TargetError};

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
