//! Large distributions as release assets. GitHub cuts request bodies off near 40 MB and Pages
//! sites stop at 1 GB, so a distribution above the body ceiling (or every one with
//! `--store release`) is stored as an asset of one release of the index repository, with its
//! PEP 658 `.metadata` beside it, and the project page links the asset's download URL.
//!
//! Assets are settled before planning: which files go there ([`route`], pure), whether the
//! release already holds them ([`check_existing`], pure: same name and digest is done, other
//! content is refused before anything is written), then the uploads. The page is committed
//! only after its assets exist, so no page links a missing file.

use std::collections::BTreeMap;

use crate::dist::DistFile;
use crate::engine::PublishError;
use crate::hashing::sha256_hex;
use crate::plan::PlanError;
use crate::report::{Event, Reporter};
use crate::target::{AssetBytes, AssetUpload, SizeLimits, StoredAsset, Target};

/// Where distributions are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StorePolicy {
    /// In the repository, unless a file is above the body ceiling: then as a release asset.
    #[default]
    Auto,
    /// Always in the repository (files above the ceiling are refused).
    Repo,
    /// Always as release assets.
    Release,
}

/// The indices of `dists` to store as release assets.
pub fn route(dists: &[DistFile], policy: StorePolicy, limits: Option<SizeLimits>) -> Vec<usize> {
    dists
        .iter()
        .enumerate()
        .filter(|(_, d)| match policy {
            StorePolicy::Repo => false,
            StorePolicy::Release => true,
            StorePolicy::Auto => limits.is_some_and(|l| d.digests.size > l.max),
        })
        .map(|(i, _)| i)
        .collect()
}

/// What the release must hold for one distribution: the file and its `.metadata`.
pub fn uploads_for(dist: &DistFile) -> Vec<AssetUpload> {
    let name = dist.filename.as_str().to_string();
    let mut uploads = vec![AssetUpload {
        name: name.clone(),
        source: AssetBytes::File {
            path: dist.path.clone(),
            len: dist.digests.size,
        },
        sha256: dist.digests.sha256.clone(),
        content_type: "application/octet-stream",
    }];
    if let Some(metadata) = &dist.metadata_bytes {
        uploads.push(AssetUpload {
            name: format!("{name}.metadata"),
            source: AssetBytes::Bytes(metadata.clone()),
            sha256: sha256_hex(metadata),
            content_type: "text/plain",
        });
    }
    uploads
}

/// How an upload compares with what the release holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Not there yet: upload it.
    Missing,
    /// There with this content: nothing to send.
    Same(StoredAsset),
    /// There with other content (its sha256, or its size when GitHub gives no digest).
    Different(String),
}

/// Compares `upload` with the release's `assets`.
pub fn check_existing(upload: &AssetUpload, assets: &[StoredAsset]) -> Existing {
    let Some(found) = assets.iter().find(|a| a.name == upload.name) else {
        return Existing::Missing;
    };
    let len = upload.source.len();
    match &found.sha256 {
        Some(sha) if *sha == upload.sha256 => Existing::Same(found.clone()),
        Some(sha) => Existing::Different(sha.clone()),
        // Older assets carry no digest: the size is all there is to compare without a download.
        None if found.size == len => Existing::Same(found.clone()),
        None => Existing::Different(format!("unknown ({} bytes)", found.size)),
    }
}

/// An upload a dry run would make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpload {
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Where it would go: `GridTools/pypi release gt4py-publish-files`.
    pub location: String,
}

impl PlannedUpload {
    /// As one of a dry run's planned writes: (path, message).
    pub fn listing(&self) -> (String, String) {
        (
            format!("release asset {}", self.name),
            format!(
                "Upload {} ({} bytes) to {}",
                self.name, self.size, self.location
            ),
        )
    }
}

/// The assets of the run's release-bound distributions, uploaded where missing; keyed by
/// distribution filename. On a dry run nothing is uploaded and missing assets are listed in
/// `planned`. Distributions whose name is taken by other content are refused, or listed in
/// `skipped` with `skip_existing`.
pub struct Settled {
    pub assets: BTreeMap<String, StoredAsset>,
    pub planned: Vec<PlannedUpload>,
    pub skipped: Vec<String>,
}

pub fn settle(
    target: &dyn Target,
    dists: &[DistFile],
    routed: &[usize],
    skip_existing: bool,
    dry_run: bool,
    reporter: &dyn Reporter,
) -> Result<Settled, PublishError> {
    let mut settled = Settled {
        assets: BTreeMap::new(),
        planned: Vec::new(),
        skipped: Vec::new(),
    };
    if routed.is_empty() {
        return Ok(settled);
    }
    let location = target.location();
    let Some(store) = target.assets() else {
        return Err(PublishError::NoAssetStore { location });
    };
    let existing = store
        .list_assets()
        .map_err(|source| PublishError::read(target, source))?;
    // Every conflict is found before anything is uploaded.
    let mut work = Vec::new();
    for &i in routed {
        let Some(dist) = dists.get(i) else {
            return Err(PublishError::Internal {
                what: format!("distribution {i} of {} routed to the release", dists.len()),
            });
        };
        let uploads = uploads_for(dist);
        let mut conflict = None;
        for upload in &uploads {
            if let Existing::Different(theirs) = check_existing(upload, &existing) {
                conflict = Some((upload.name.clone(), theirs));
            }
        }
        if let Some((name, theirs)) = conflict {
            if skip_existing {
                settled.skipped.push(dist.filename.as_str().to_string());
                continue;
            }
            return Err(PublishError::Plan {
                location,
                source: PlanError::DifferentContent {
                    filename: name,
                    ours: dist.digests.sha256.clone(),
                    theirs,
                },
            });
        }
        work.push((dist, uploads));
    }
    for (dist, uploads) in work {
        let mut file_asset = None;
        for upload in &uploads {
            let stored = match check_existing(upload, &existing) {
                Existing::Same(asset) => asset,
                _ if dry_run => {
                    settled.planned.push(PlannedUpload {
                        name: upload.name.clone(),
                        size: upload.source.len(),
                        location: store.asset_location(),
                    });
                    StoredAsset {
                        id: None,
                        name: upload.name.clone(),
                        size: upload.source.len(),
                        sha256: Some(upload.sha256.clone()),
                        url: format!("(release asset {})", upload.name),
                    }
                }
                _ => {
                    let asset = store.put_asset(upload, reporter).map_err(|source| {
                        PublishError::Write {
                            location: store.asset_location(),
                            path: upload.name.clone(),
                            source,
                        }
                    })?;
                    reporter.event(Event::Step(&format!(
                        "uploaded {} to {}",
                        upload.name,
                        store.asset_location()
                    )));
                    asset
                }
            };
            if upload.name == dist.filename.as_str() {
                file_asset = Some(stored);
            }
        }
        if let Some(asset) = file_asset {
            settled
                .assets
                .insert(dist.filename.as_str().to_string(), asset);
        }
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(name: &str, size: u64, sha256: Option<&str>) -> StoredAsset {
        StoredAsset {
            id: None,
            name: name.into(),
            size,
            sha256: sha256.map(str::to_string),
            url: format!("https://github.com/o/r/releases/download/t/{name}"),
        }
    }

    fn upload(name: &str, bytes: &[u8]) -> AssetUpload {
        AssetUpload {
            name: name.into(),
            source: AssetBytes::Bytes(bytes.to_vec()),
            sha256: sha256_hex(bytes),
            content_type: "text/plain",
        }
    }

    #[test]
    fn an_existing_asset_is_kept_only_with_the_same_content() {
        let ours = upload("x.whl", b"ours");
        assert_eq!(check_existing(&ours, &[]), Existing::Missing);
        let same = asset("x.whl", 4, Some(&ours.sha256));
        assert_eq!(
            check_existing(&ours, std::slice::from_ref(&same)),
            Existing::Same(same)
        );
        let other = asset("x.whl", 4, Some(&"0".repeat(64)));
        assert_eq!(
            check_existing(&ours, &[other]),
            Existing::Different("0".repeat(64))
        );
        // Without a digest the size decides.
        let undigested = asset("x.whl", 4, None);
        assert!(matches!(
            check_existing(&ours, &[undigested]),
            Existing::Same(_)
        ));
        assert!(matches!(
            check_existing(&ours, &[asset("x.whl", 5, None)]),
            Existing::Different(_)
        ));
        assert_eq!(
            check_existing(&ours, &[asset("y.whl", 4, None)]),
            Existing::Missing
        );
    }

    #[test]
    fn routing_follows_the_policy_and_the_ceiling() {
        use crate::filename::DistFilename;
        use crate::hashing::FileDigests;
        use crate::metadata::CoreMetadata;
        let dist = |name: &str, size: u64| DistFile {
            path: name.into(),
            filename: DistFilename::parse(name).unwrap(),
            metadata: CoreMetadata::parse(b"Metadata-Version: 2.1\nName: x\nVersion: 1\n").unwrap(),
            metadata_bytes: None,
            digests: FileDigests {
                sha256: String::new(),
                blob_sha: String::new(),
                size,
            },
        };
        let dists = [
            dist("x-1-py3-none-any.whl", 10),
            dist("x-2-py3-none-any.whl", 100),
        ];
        let limits = Some(SizeLimits { max: 50, warn: 40 });
        assert_eq!(route(&dists, StorePolicy::Auto, limits), [1]);
        assert_eq!(route(&dists, StorePolicy::Auto, None), Vec::<usize>::new());
        assert_eq!(route(&dists, StorePolicy::Release, limits), [0, 1]);
        assert_eq!(
            route(&dists, StorePolicy::Repo, limits),
            Vec::<usize>::new()
        );
    }
}
