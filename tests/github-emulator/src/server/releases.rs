//! Releases and release assets: the API (`/releases...`), the upload host (`/uploads/...`),
//! and the public download path (`/download/...`, which redirects to the `/cdn/...` stand-in).

use bytes::Bytes;
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::{
    Ctx, RequestInfo, Resp, encode_path, error, json_resp, missing_fields, read_body, respond,
    rfc3339, text, type_name,
};
use crate::{Asset, Release, RequestRecord, Shared};

pub(super) const DOCS_RELEASES: &str = "https://docs.github.com/rest/releases/releases";
pub(super) const DOCS_UPLOAD: &str =
    "https://docs.github.com/rest/releases/assets#upload-a-release-asset";
const DOCS_CREATE: &str = "https://docs.github.com/rest/releases/releases#create-a-release";
const DOCS_ASSETS: &str = "https://docs.github.com/rest/releases/assets";

/// The time shown as `created_at` / `published_at` / `updated_at`: the time of the answer.
fn created_at() -> String {
    rfc3339(std::time::SystemTime::now())
}

fn user() -> Value {
    json!({"login": "emulator-user", "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false})
}

fn repo_url(shared: &Shared) -> String {
    let (owner, repo) = shared.full_name();
    format!("{}/repos/{owner}/{repo}", shared.api_base())
}

fn download_url(shared: &Shared, tag: &str, name: &str) -> String {
    let (owner, repo) = shared.full_name();
    format!(
        "{}/download/{owner}/{repo}/releases/download/{}/{}",
        shared.base,
        encode_path(tag),
        encode_path(name)
    )
}

fn asset_json(shared: &Shared, tag: &str, a: &Asset) -> Value {
    let now = created_at();
    json!({
        "url": format!("{}/releases/assets/{}", repo_url(shared), a.id),
        "id": a.id,
        "node_id": "RA_kwDOAAAAAc4AAAAB",
        "name": a.name,
        "label": a.label,
        "uploader": user(),
        "content_type": a.content_type,
        "state": "uploaded",
        "size": a.size,
        "digest": a.digest,
        "download_count": 0,
        "created_at": now,
        "updated_at": now,
        "browser_download_url": download_url(shared, tag, &a.name),
    })
}

fn release_json(shared: &Shared, r: &Release) -> Value {
    let repo = repo_url(shared);
    let (owner, name) = shared.full_name();
    let now = created_at();
    let assets: Vec<Value> = r
        .assets
        .iter()
        .map(|a| asset_json(shared, &r.tag_name, a))
        .collect();
    json!({
        "url": format!("{repo}/releases/{}", r.id),
        "assets_url": format!("{repo}/releases/{}/assets", r.id),
        "upload_url": format!(
            "{}{}/repos/{owner}/{name}/releases/{}/assets{{?name,label}}",
            shared.base,
            shared.uploads_prefix(),
            r.id
        ),
        "html_url": format!("{}/{owner}/{name}/releases/tag/{}", shared.base, encode_path(&r.tag_name)),
        "id": r.id,
        "author": user(),
        "node_id": "RE_kwDOAAAAAc4AAAAB",
        "tag_name": r.tag_name,
        "target_commitish": r.target_commitish,
        "name": r.name,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "created_at": now,
        "published_at": now,
        "assets": assets,
        "tarball_url": format!("{repo}/tarball/{}", encode_path(&r.tag_name)),
        "zipball_url": format!("{repo}/zipball/{}", encode_path(&r.tag_name)),
        "body": r.body,
    })
}

fn not_found(docs: &str) -> Resp {
    error(404, "Not Found", docs)
}

/// `?per_page=` (default 30, at most 100) and `?page=` (from 1).
fn paging(ctx: &Ctx) -> (usize, usize) {
    let number = |k: &str| ctx.inc.query.get(k).and_then(|v| v.parse::<usize>().ok());
    let per_page = number("per_page").filter(|n| *n > 0).unwrap_or(30).min(100);
    let page = number("page").filter(|n| *n > 0).unwrap_or(1);
    (per_page, page)
}

/// One page of `items` with GitHub's `Link` header (`prev`, `next`, `last`, `first`).
fn paginated(items: Vec<Value>, per_page: usize, page: usize, url: &str) -> Resp {
    let last = items.len().div_ceil(per_page).max(1);
    let out: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut resp = json_resp(200, &Value::Array(out));
    let link = |p: usize, rel: &str| format!("<{url}?per_page={per_page}&page={p}>; rel=\"{rel}\"");
    let mut links = Vec::new();
    if page > 1 {
        links.push(link((page - 1).min(last), "prev"));
    }
    if page < last {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
    }
    if !links.is_empty() {
        resp.header("link", &links.join(", "));
    }
    resp
}

/// `GET /releases...`.
pub(super) fn get(ctx: &Ctx, sub: &str, record: &mut RequestRecord) -> Resp {
    let shared = ctx.shared;
    let sub = sub.trim_end_matches('/');
    let releases = shared.lock().releases.clone();
    if sub.is_empty() {
        let (per_page, page) = paging(ctx);
        let mut items: Vec<Value> = releases.iter().map(|r| release_json(shared, r)).collect();
        items.reverse(); // newest first
        let url = format!("{}/repositories/1/releases", shared.api_base());
        return paginated(items, per_page, page, &url);
    }
    if let Some(tag) = sub.strip_prefix("tags/") {
        return match releases.iter().find(|r| r.tag_name == tag) {
            Some(r) => json_resp(200, &release_json(shared, r)),
            None => not_found(
                "https://docs.github.com/rest/releases/releases#get-a-release-by-tag-name",
            ),
        };
    }
    if let Some(id) = sub.strip_prefix("assets/") {
        let found = releases.iter().find_map(|r| {
            r.assets
                .iter()
                .find(|a| id.parse() == Ok(a.id))
                .map(|a| (r.tag_name.clone(), a.clone()))
        });
        let Some((tag, asset)) = found else {
            return not_found(DOCS_ASSETS);
        };
        let accept = ctx.inc.header("accept").unwrap_or_default();
        if accept.contains("application/octet-stream") {
            // Like GitHub: a redirect to the storage host, which serves the bytes.
            let _ = record;
            let mut resp = respond(302, "text/html;charset=utf-8", Bytes::new());
            resp.header("location", &cdn_url(shared, &asset));
            return resp;
        }
        return json_resp(200, &asset_json(shared, &tag, &asset));
    }
    let (id, rest) = sub.split_once('/').unwrap_or((sub, ""));
    let Some(r) = releases.iter().find(|r| id.parse() == Ok(r.id)) else {
        return not_found(DOCS_RELEASES);
    };
    match rest {
        "" => json_resp(200, &release_json(shared, r)),
        "assets" => {
            let (per_page, page) = paging(ctx);
            let items: Vec<Value> = r
                .assets
                .iter()
                .map(|a| asset_json(shared, &r.tag_name, a))
                .collect();
            let url = format!(
                "{}/repositories/1/releases/{}/assets",
                shared.api_base(),
                r.id
            );
            paginated(items, per_page, page, &url)
        }
        _ => not_found(DOCS_RELEASES),
    }
}

/// `POST /releases`, `DELETE /releases/{id}`, `DELETE /releases/assets/{id}`.
pub(super) fn write(ctx: &Ctx, sub: &str, body: &[u8], record: &mut RequestRecord) -> Resp {
    let shared = ctx.shared;
    let sub = sub.trim_end_matches('/');
    if ctx.inc.method == "POST" {
        if !sub.is_empty() {
            return not_found(DOCS_RELEASES);
        }
        return create(shared, body, record);
    }
    let mut state = shared.lock();
    if let Some(id) = sub.strip_prefix("assets/") {
        for r in &mut state.releases {
            if let Some(i) = r.assets.iter().position(|a| id.parse() == Ok(a.id)) {
                r.assets.remove(i);
                return respond(204, "application/octet-stream", Bytes::new());
            }
        }
        return not_found(DOCS_ASSETS);
    }
    match state.releases.iter().position(|r| sub.parse() == Ok(r.id)) {
        Some(i) => {
            state.releases.remove(i);
            respond(204, "application/octet-stream", Bytes::new())
        }
        None => not_found(DOCS_RELEASES),
    }
}

fn validation_failed(resource: &str, code: &str, field: &str, docs: &str) -> Resp {
    json_resp(
        422,
        &json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": code, "field": field}],
            "documentation_url": docs,
            "status": "422",
        }),
    )
}

fn create(shared: &Shared, body: &[u8], record: &mut RequestRecord) -> Resp {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return error(400, "Problems parsing JSON", DOCS_CREATE);
    };
    if !fields.contains_key("tag_name") {
        return missing_fields(&["tag_name"], DOCS_CREATE);
    }
    if let Some(resp) = check_types(&fields) {
        return resp;
    }
    let text_field = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    let flag = |k: &str| fields.get(k).and_then(Value::as_bool).unwrap_or(false);
    let tag = text_field("tag_name").unwrap_or_default();
    if tag.is_empty() {
        return validation_failed("Release", "custom", "tag_name", DOCS_CREATE);
    }
    let mut state = shared.lock();
    if state.releases.iter().any(|r| r.tag_name == tag) {
        return validation_failed("Release", "already_exists", "tag_name", DOCS_CREATE);
    }
    let id = state.next_release_id;
    state.next_release_id += 1;
    let release = Release {
        id,
        tag_name: tag,
        name: text_field("name"),
        body: text_field("body"),
        target_commitish: text_field("target_commitish")
            .unwrap_or_else(|| shared.config.branch.clone()),
        draft: flag("draft"),
        prerelease: flag("prerelease"),
        assets: Vec::new(),
    };
    state.releases.push(release.clone());
    drop(state);
    record.created = Some(format!("release:{id}"));
    let mut resp = json_resp(201, &release_json(shared, &release));
    resp.header("location", &format!("{}/releases/{id}", repo_url(shared)));
    resp
}

fn check_types(fields: &Map<String, Value>) -> Option<Resp> {
    for (key, want_bool) in [
        ("tag_name", false),
        ("name", false),
        ("body", false),
        ("target_commitish", false),
        ("draft", true),
        ("prerelease", true),
    ] {
        if let Some(v) = fields.get(key) {
            let ok = if want_bool {
                v.is_boolean()
            } else {
                v.is_string()
            };
            if !ok {
                let kind = if want_bool { "a boolean" } else { "a string" };
                return Some(error(
                    422,
                    &format!(
                        "Invalid request.\n\nFor 'properties/{key}', {} is not {kind}.",
                        type_name(v)
                    ),
                    DOCS_CREATE,
                ));
            }
        }
    }
    None
}

/// An error as the upload host words it: `{message, request_id}`.
fn upload_error(status: u16, message: &str) -> Resp {
    json_resp(
        status,
        &json!({"message": message, "request_id": "E0E0:00001:0000000:0000000:00000000"}),
    )
}

/// `POST {uploads}/repos/{o}/{r}/releases/{id}/assets?name=NAME&label=LABEL` with the raw bytes.
pub(super) async fn upload(
    ctx: &Ctx<'_>,
    id: &str,
    body: &mut Option<Incoming>,
    record: &mut RequestRecord,
) -> Resp {
    let shared = ctx.shared;
    let cfg = &shared.config;
    let inc: &RequestInfo = ctx.inc;
    let content_type = inc.header("content-type").unwrap_or_default();
    let has_length = inc.headers.contains_key("content-length");
    let bytes = match read_body(body, cfg.max_asset_size, record).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let release_known = shared
        .lock()
        .releases
        .iter()
        .any(|r| id.parse() == Ok(r.id));
    if !release_known {
        return not_found(DOCS_UPLOAD);
    }
    if cfg.upload_requires_content_length && !has_length {
        return upload_error(400, "Bad Content-Length: ");
    }
    if content_type.trim().is_empty() {
        return upload_error(400, "Invalid Content-Type: ''");
    }
    let Some(requested) = inc.query.get("name").filter(|n| !n.is_empty()) else {
        return upload_error(422, "Invalid name for request");
    };
    let name = (cfg.asset_name_rule)(requested);
    let label = inc.query.get("label").cloned().filter(|l| !l.is_empty());
    let mut state = shared.lock();
    let asset_id = state.next_asset_id;
    let Some(release) = state.releases.iter_mut().find(|r| id.parse() == Ok(r.id)) else {
        return not_found(DOCS_UPLOAD);
    };
    if release.assets.iter().any(|a| a.name == name) {
        // As recorded in tests/fixtures/github/release-assets-conflict.json.
        return json_resp(
            422,
            &json!({
                "message": "Validation Failed",
                "request_id": "E0E0:00001:0000000:0000000:00000000",
                "documentation_url": "https://docs.github.com/rest",
                "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
            }),
        );
    }
    let asset = Asset {
        id: asset_id,
        name,
        label,
        content_type,
        size: bytes.len() as u64,
        digest: format!("sha256:{}", crate::sha256::sha256_hex(&bytes)),
        bytes,
    };
    release.assets.push(asset.clone());
    let tag = release.tag_name.clone();
    state.next_asset_id += 1;
    drop(state);
    record.created = Some(format!("asset:{asset_id}"));
    json_resp(201, &asset_json(shared, &tag, &asset))
}

fn cdn_url(shared: &Shared, asset: &Asset) -> String {
    format!(
        "{}/cdn/{}/{}?response-content-disposition=attachment",
        shared.base,
        asset.id,
        encode_path(&asset.name)
    )
}

/// `GET /download/{o}/{r}/releases/download/{tag}/{name}`: 302 to the CDN stand-in, no auth
/// (a public repository's release downloads need none).
pub(super) fn download(
    shared: &Shared,
    inc: &RequestInfo,
    rest: &str,
    record: &mut RequestRecord,
) -> Resp {
    let cfg = &shared.config;
    let missing = || text(404, "Not Found");
    if !matches!(inc.method.as_str(), "GET" | "HEAD") || cfg.private {
        return missing();
    }
    let mut parts = rest.splitn(3, '/');
    let (owner, repo, rest) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let (current_owner, current_repo) = shared.full_name();
    let named = |o: &str, r: &str| owner.eq_ignore_ascii_case(o) && repo.eq_ignore_ascii_case(r);
    if !(named(current_owner, current_repo) || named(&cfg.owner, &cfg.repo)) {
        return missing();
    }
    let Some((tag, name)) = rest
        .strip_prefix("releases/download/")
        .and_then(|r| r.split_once('/'))
    else {
        return missing();
    };
    let asset = shared
        .lock()
        .releases
        .iter()
        .find(|r| r.tag_name == tag)
        .and_then(|r| r.assets.iter().find(|a| a.name == name).cloned());
    let Some(asset) = asset else {
        return missing();
    };
    let _ = record;
    let mut resp = respond(302, "text/html; charset=utf-8", Bytes::new());
    resp.header("location", &cdn_url(shared, &asset));
    resp
}

/// `GET /cdn/{asset id}/{name}`: the bytes (stands in for GitHub's release asset storage).
pub(super) fn cdn(
    shared: &Shared,
    inc: &RequestInfo,
    rest: &str,
    record: &mut RequestRecord,
) -> Resp {
    if !matches!(inc.method.as_str(), "GET" | "HEAD") {
        return text(404, "Not Found");
    }
    let (id, _) = rest.split_once('/').unwrap_or((rest, ""));
    let found = shared.lock().releases.iter().find_map(|r| {
        r.assets
            .iter()
            .find(|a| id.parse() == Ok(a.id))
            .map(|a| (r.tag_name.clone(), a.clone()))
    });
    let Some((tag, asset)) = found else {
        return text(404, "Not Found");
    };
    record.content_served = Some(format!("release {tag}/{}", asset.name));
    let mut resp = respond(200, "application/octet-stream", asset.bytes.clone());
    resp.header(
        "content-disposition",
        &format!("attachment; filename={}", asset.name),
    );
    resp
}
