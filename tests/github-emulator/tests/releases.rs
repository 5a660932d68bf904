//! Releases and release assets: creation, uploads (raw bodies), name rewriting, conflicts,
//! pagination, deletes, public downloads through a redirect, faults and rate limits.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use github_emulator::{Config, Emulator, Fault, FaultPlan, RateLimitConfig};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Api, client, message, status_json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/github/");

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// `upload_url` without its `{?name,label}` template, as a client must use it.
fn upload_base(release: &Value) -> String {
    let url = release["upload_url"].as_str().unwrap();
    url.split('{').next().unwrap().to_string()
}

fn upload(api: &Api, release: &Value, name: &str, bytes: &[u8]) -> (u16, Value) {
    let url = format!("{}?name={}", upload_base(release), urlencode(name));
    status_json(
        api.at(Method::POST, &url)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .unwrap(),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn create_release(api: &Api, tag: &str) -> Value {
    let (status, v) = api.post(
        "releases",
        &json!({"tag_name": tag, "name": tag, "body": "b"}),
    );
    assert_eq!(status, 201, "{v}");
    v
}

#[test]
fn releases_are_created_once_per_tag_and_found_by_tag_and_id() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let (status, v) = api.get("releases/tags/wheels");
    assert_eq!((status, message(&v)), (404, "Not Found"));

    let release = create_release(&api, "wheels");
    let recorded = &fixture("release-assets-conflict.json")[0]["response"];
    assert_eq!(keys(&release), keys(recorded));
    assert_eq!(release["tag_name"], "wheels");
    assert_eq!(release["target_commitish"], "main");
    assert_eq!(release["assets"], json!([]));
    let upload_url = release["upload_url"].as_str().unwrap();
    assert_eq!(
        upload_url,
        format!(
            "{}/repos/GridTools/pypi/releases/{}/assets{{?name,label}}",
            emu.uploads_url(),
            release["id"]
        )
    );
    assert!(upload_url.contains("/uploads/repos/"));

    let (status, by_tag) = api.get("releases/tags/wheels");
    assert_eq!(status, 200);
    assert_eq!(by_tag["id"], release["id"]);
    let (status, by_id) = api.get(&format!("releases/{}", release["id"]));
    assert_eq!((status, by_id["tag_name"].as_str()), (200, Some("wheels")));
    assert_eq!(api.get("releases/999").0, 404);

    let (status, v) = api.post("releases", &json!({"tag_name": "wheels"}));
    assert_eq!(status, 422);
    assert_eq!(message(&v), "Validation Failed");
    assert_eq!(
        v["errors"],
        json!([{"resource": "Release", "code": "already_exists", "field": "tag_name"}])
    );
    let (status, v) = api.post("releases", &json!({"name": "x"}));
    assert_eq!(
        (status, message(&v)),
        (422, "Invalid request.\n\n\"tag_name\" wasn't supplied.")
    );
    assert_eq!(emu.releases().len(), 1);
    assert_eq!(emu.releases()[0].body.as_deref(), Some("b"));

    // A read-only token may not create releases.
    let emu = Emulator::start(Config {
        read_only_token: Some("ro".into()),
        ..Config::default()
    });
    let (status, v) = Api::new(&emu)
        .with_token(Some("ro"))
        .post("releases", &json!({"tag_name": "t"}));
    assert_eq!(
        (status, message(&v)),
        (403, "Resource not accessible by integration")
    );
    assert!(emu.releases().is_empty());
}

#[test]
fn uploads_store_the_raw_bytes_with_a_sha256_digest() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let url = format!(
        "{}?name=big-1.0-py3-none-any.whl&label=Big",
        upload_base(&release)
    );
    let (status, asset) = status_json(
        api.at(Method::POST, &url)
            .header("content-type", "application/zip")
            .body(bytes.clone())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{asset}");
    let recorded = &fixture("release-assets-conflict.json")[4]["response"];
    let mut expected = keys(recorded);
    expected.insert("digest".into());
    assert_eq!(keys(&asset), expected);
    assert_eq!(asset["name"], "big-1.0-py3-none-any.whl");
    assert_eq!(asset["label"], "Big");
    assert_eq!(asset["content_type"], "application/zip");
    assert_eq!(asset["state"], "uploaded");
    assert_eq!(asset["size"], bytes.len());
    assert_eq!(asset["uploader"]["login"], "emulator-user");
    let digest = asset["digest"].as_str().unwrap();
    assert_eq!(digest, format!("sha256:{}", sha256sum(&bytes)));
    assert_eq!(
        asset["browser_download_url"],
        format!(
            "{}/download/GridTools/pypi/releases/download/wheels/big-1.0-py3-none-any.whl",
            emu.api_url()
        )
    );
    // The body went over the wire raw, not base64.
    let record = emu
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .unwrap();
    assert_eq!(record.request_bytes, bytes.len() as u64);
    assert_eq!(
        record.created.as_deref(),
        Some(format!("asset:{}", asset["id"]).as_str())
    );

    let stored = emu.assets("wheels");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].bytes, bytes);
    assert_eq!(stored[0].digest, digest);
    assert_eq!(stored[0].size, bytes.len() as u64);
    // The asset appears in the release and by id.
    let (_, r) = api.get("releases/tags/wheels");
    assert_eq!(r["assets"][0]["id"], asset["id"]);
    let (status, by_id) = api.get(&format!("releases/assets/{}", asset["id"]));
    assert_eq!((status, by_id["digest"].as_str()), (200, Some(digest)));
    // No commit: assets are not in the repository.
    assert_eq!(emu.api_commits().len(), 0);
}

fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn taken_names_conflict_exactly_as_recorded_and_names_are_rewritten() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    let (status, a) = upload(&api, &release, "dace-43!2026.2.3-py3-none-any.whl", b"one");
    assert_eq!(status, 201);
    // GitHub rewrites unusual characters; the default rule turns `!` into `.`.
    assert_eq!(a["name"], "dace-43.2026.2.3-py3-none-any.whl");
    let (status, a) = upload(&api, &release, "a b+c~d.whl", b"x");
    assert_eq!((status, a["name"].as_str()), (201, Some("a.b+c.d.whl")));

    // The same name (after the rewrite) again: 422 as recorded.
    let (status, v) = upload(&api, &release, "dace-43.2026.2.3-py3-none-any.whl", b"two");
    let recorded = &fixture("release-assets-conflict.json")[1];
    assert_eq!(status, recorded["status"]);
    let mut expected = recorded["response"].clone();
    expected["request_id"] = v["request_id"].clone();
    assert_eq!(v, expected);
    assert_eq!(emu.assets("wheels")[0].bytes, &b"one"[..]);

    // A custom rule.
    fn keep(name: &str) -> String {
        name.to_string()
    }
    let emu = Emulator::start(Config {
        asset_name_rule: keep,
        ..Config::default()
    });
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    let (_, a) = upload(&api, &release, "dace-43!2026.2.3-py3-none-any.whl", b"one");
    assert_eq!(a["name"], "dace-43!2026.2.3-py3-none-any.whl");
}

#[test]
fn uploads_need_a_content_type_a_length_a_name_and_a_release() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    let base = upload_base(&release);

    let (status, v) = status_json(
        api.at(Method::POST, &format!("{base}?name=a.whl"))
            .body(b"x".to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!((status, message(&v)), (400, "Invalid Content-Type: ''"));
    // A chunked body (no Content-Length) is refused, as by uploads.github.com.
    let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(b"chunked".to_vec()));
    let (status, v) = status_json(
        api.at(Method::POST, &format!("{base}?name=a.whl"))
            .header("content-type", "application/octet-stream")
            .body(chunked)
            .send()
            .unwrap(),
    );
    assert_eq!((status, message(&v)), (400, "Bad Content-Length: "));
    let (status, _) = status_json(
        api.at(Method::POST, &base)
            .header("content-type", "application/octet-stream")
            .body(b"x".to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 422);
    let unknown = base.replace(&format!("/releases/{}/", release["id"]), "/releases/77/");
    let (status, _) = status_json(
        api.at(Method::POST, &format!("{unknown}?name=a.whl"))
            .header("content-type", "application/octet-stream")
            .body(b"x".to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    let (status, v) = status_json(
        api.with_token(None)
            .at(Method::POST, &format!("{base}?name=a.whl"))
            .header("content-type", "application/octet-stream")
            .body(b"x".to_vec())
            .send()
            .unwrap(),
    );
    assert_eq!((status, message(&v)), (401, "Requires authentication"));
    assert!(emu.assets("wheels").is_empty());

    // Chunked uploads can be allowed.
    let emu = Emulator::start(Config {
        upload_requires_content_length: false,
        ..Config::default()
    });
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(b"chunked".to_vec()));
    let (status, _) = status_json(
        api.at(
            Method::POST,
            &format!("{}?name=a.whl", upload_base(&release)),
        )
        .header("content-type", "application/octet-stream")
        .body(chunked)
        .send()
        .unwrap(),
    );
    assert_eq!(status, 201);
    assert_eq!(emu.assets("wheels")[0].bytes, &b"chunked"[..]);
}

#[test]
fn asset_lists_are_paginated_with_link_headers() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    for i in 0..5 {
        assert_eq!(upload(&api, &release, &format!("f{i}.whl"), b"x").0, 201);
    }
    let id = release["id"].as_u64().unwrap();
    let resp = api
        .req(Method::GET, &format!("releases/{id}/assets?per_page=2"))
        .send()
        .unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_string();
    let base = format!("{}/repositories/1/releases/{id}/assets", emu.api_url());
    assert_eq!(
        link,
        format!(
            "<{base}?per_page=2&page=2>; rel=\"next\", <{base}?per_page=2&page=3>; rel=\"last\""
        )
    );
    let (_, page1) = status_json(resp);
    let mut names: Vec<String> = page1
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    // Follow rel="next" to the end.
    let mut next = Some(format!("{base}?per_page=2&page=2"));
    let mut pages = 1;
    while let Some(url) = next.take() {
        let resp = api.at(Method::GET, &url).send().unwrap();
        assert_eq!(resp.status(), 200);
        let link = resp
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string());
        if let Some(link) = &link {
            assert!(
                link.contains("rel=\"first\"") && link.contains("rel=\"prev\""),
                "{link}"
            );
            next = link
                .split(", ")
                .find(|p| p.ends_with("rel=\"next\""))
                .map(|p| p[1..p.find('>').unwrap()].to_string());
        }
        let (_, v) = status_json(resp);
        names.extend(
            v.as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["f0.whl", "f1.whl", "f2.whl", "f3.whl", "f4.whl"]);
    // Defaults: 30 per page, no Link when everything fits; per_page above 100 is 100.
    let resp = api
        .req(Method::GET, &format!("releases/{id}/assets"))
        .send()
        .unwrap();
    assert!(resp.headers().get("link").is_none());
    assert_eq!(status_json(resp).1.as_array().unwrap().len(), 5);
    let (_, v) = api.get(&format!("releases/{id}/assets?per_page=1000"));
    assert_eq!(v.as_array().unwrap().len(), 5);
}

#[test]
fn downloads_redirect_to_the_cdn_without_auth_and_deletes_remove_assets() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    let (_, asset) = upload(&api, &release, "pkg-1.0-py3-none-any.whl", b"wheel bytes");
    let url = asset["browser_download_url"].as_str().unwrap().to_string();

    // No token, no redirects followed: a 302 to the CDN stand-in.
    let plain = client();
    let resp = plain.get(&url).send().unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/cdn/"), "{location}");
    let resp = plain.get(&location).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=pkg-1.0-py3-none-any.whl"
    );
    assert_eq!(resp.bytes().unwrap().as_ref(), b"wheel bytes");
    let served = emu
        .requests()
        .into_iter()
        .rfind(|r| r.raw_download)
        .unwrap();
    assert_eq!(
        served.content_served.as_deref(),
        Some("release wheels/pkg-1.0-py3-none-any.whl")
    );
    // Python's urllib (what pip's stack does too) follows the redirect.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1]).read())",
            &url,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"wheel bytes");
    // The API's asset endpoint redirects too with Accept: application/octet-stream.
    let resp = api
        .req(Method::GET, &format!("releases/assets/{}", asset["id"]))
        .header("accept", "application/octet-stream")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 302);

    let resp = api
        .req(Method::DELETE, &format!("releases/assets/{}", asset["id"]))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(emu.assets("wheels").is_empty());
    assert_eq!(api.get(&format!("releases/assets/{}", asset["id"])).0, 404);
    assert_eq!(plain.get(&url).send().unwrap().status(), 404);
    assert_eq!(plain.get(&location).send().unwrap().status(), 404);
    let resp = api
        .req(Method::DELETE, &format!("releases/assets/{}", asset["id"]))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 404);
    // The name is free again.
    assert_eq!(
        upload(&api, &release, "pkg-1.0-py3-none-any.whl", b"again").0,
        201
    );
}

#[test]
fn seeded_assets_are_served_and_listed() {
    let emu = Emulator::new();
    let id = emu.seed_asset("wheels", "x-1.0.tar.gz", "application/gzip", b"sdist");
    let api = Api::new(&emu);
    let (status, r) = api.get("releases/tags/wheels");
    assert_eq!(status, 200);
    assert_eq!(r["assets"][0]["id"], id);
    assert_eq!(r["assets"][0]["name"], "x-1.0.tar.gz");
    assert_eq!(emu.release("wheels").unwrap().assets.len(), 1);
    assert_eq!(emu.seed_release("wheels"), r["id"].as_u64().unwrap());
}

#[test]
fn faults_and_rate_limits_apply_to_release_writes_and_uploads() {
    let emu = Emulator::start(Config {
        rate_limit: RateLimitConfig {
            limit: 100,
            window: Duration::from_secs(3600),
        },
        ..Config::default()
    });
    let api = Api::new(&emu);

    emu.set_faults(FaultPlan::next(
        "POST",
        &emu.api_path("releases"),
        1,
        Fault::status(500),
    ));
    assert_eq!(api.post("releases", &json!({"tag_name": "w"})).0, 500);
    assert!(emu.releases().is_empty());
    let release = create_release(&api, "w");

    // A lost upload answer: the asset is there.
    let uploads = format!("{}/repos/GridTools/pypi/releases/", emu.uploads_url());
    let uploads_path = uploads.trim_start_matches(&emu.api_url()).to_string();
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path,
        1,
        Fault::DropAfterApply,
    ));
    let sent = api
        .at(
            Method::POST,
            &format!("{}?name=a.whl", upload_base(&release)),
        )
        .header("content-type", "application/octet-stream")
        .body(b"lost answer".to_vec())
        .send();
    assert!(sent.is_err());
    assert_eq!(emu.assets("w")[0].bytes, &b"lost answer"[..]);
    // Dropped before: nothing stored.
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path,
        1,
        Fault::DropBeforeApply,
    ));
    let sent = api
        .at(
            Method::POST,
            &format!("{}?name=b.whl", upload_base(&release)),
        )
        .header("content-type", "application/octet-stream")
        .body(b"never".to_vec())
        .send();
    assert!(sent.is_err());
    assert_eq!(emu.assets("w").len(), 1);
    // Secondary limits and 5xx on uploads.
    emu.set_faults(FaultPlan::next(
        "POST",
        &uploads_path,
        1,
        Fault::SecondaryRateLimit {
            retry_after_secs: Some(3),
        },
    ));
    let resp = api
        .at(
            Method::POST,
            &format!("{}?name=b.whl", upload_base(&release)),
        )
        .header("content-type", "application/octet-stream")
        .body(b"x".to_vec())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["retry-after"], "3");
    // A lost delete answer: deleted.
    let id = emu.assets("w")[0].id;
    emu.set_faults(FaultPlan::next(
        "DELETE",
        &emu.api_path("releases/assets/"),
        1,
        Fault::DropAfterApply,
    ));
    assert!(
        api.req(Method::DELETE, &format!("releases/assets/{id}"))
            .send()
            .is_err()
    );
    assert!(emu.assets("w").is_empty());

    // Uploads count against the rate limit and carry its headers.
    let used = |resp: &reqwest::blocking::Response| -> u32 {
        resp.headers()["x-ratelimit-used"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = used(&api.req(Method::GET, "releases/tags/w").send().unwrap());
    let resp = api
        .at(
            Method::POST,
            &format!("{}?name=c.whl", upload_base(&release)),
        )
        .header("content-type", "application/octet-stream")
        .body(b"x".to_vec())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(used(&resp), before + 1);
    assert_eq!(
        resp.headers()["x-ratelimit-remaining"],
        (100 - before - 1).to_string()
    );
    // An exhausted limit refuses uploads too.
    emu.set_rate_limit(RateLimitConfig {
        limit: 0,
        window: Duration::from_secs(3600),
    });
    let resp = api
        .at(
            Method::POST,
            &format!("{}?name=d.whl", upload_base(&release)),
        )
        .header("content-type", "application/octet-stream")
        .body(b"x".to_vec())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(emu.assets("w").len(), 1);
}

#[test]
fn with_an_api_prefix_uploads_live_under_api_uploads_like_ghes() {
    let emu = Emulator::start(Config {
        api_prefix: "/api/v3".into(),
        ..Config::default()
    });
    assert!(emu.uploads_url().ends_with("/api/uploads"));
    let api = Api::new(&emu);
    let release = create_release(&api, "wheels");
    assert!(
        release["upload_url"]
            .as_str()
            .unwrap()
            .contains("/api/uploads/repos/GridTools/pypi/releases/")
    );
    let (status, asset) = upload(&api, &release, "a.whl", b"a");
    assert_eq!(status, 201, "{asset}");
    assert!(asset["url"].as_str().unwrap().contains("/api/v3/repos/"));
    assert_eq!(emu.assets("wheels")[0].bytes, &b"a"[..]);
}
