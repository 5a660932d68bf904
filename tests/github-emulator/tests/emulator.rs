//! Behaviour of the emulator over HTTP, and the shapes of its answers compared with GitHub's
//! recorded responses in `tests/fixtures/github/`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use github_emulator::{
    CommitKind, Config, Emulator, Fault, FaultPlan, MissingFileSha, RateLimitConfig, git_blob_sha,
};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/github/");

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}{name}"))
        .unwrap_or_else(|e| panic!("read fixture {name}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A client that talks to the emulator the way the tool should: UA, token, API version.
struct Api<'a> {
    emu: &'a Emulator,
    http: Client,
    token: Option<String>,
}

/// A client builder that works whatever features reqwest is unified with in the workspace.
fn client_builder() -> reqwest::blocking::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
}

impl<'a> Api<'a> {
    fn new(emu: &'a Emulator) -> Api<'a> {
        Api {
            emu,
            http: client_builder()
                .user_agent("github-emulator-tests")
                .build()
                .unwrap(),
            token: Some(emu.token()),
        }
    }

    fn with_token(mut self, token: Option<&str>) -> Api<'a> {
        self.token = token.map(str::to_string);
        self
    }

    fn req(&self, method: reqwest::Method, url: String) -> RequestBuilder {
        let mut r = self
            .http
            .request(method, url)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.req(
            reqwest::Method::GET,
            format!("{}/repos/GridTools/pypi/{path}", self.emu.api_url()),
        )
    }

    fn contents(&self, path: &str) -> RequestBuilder {
        self.get(&format!("contents/{path}"))
    }

    fn put(&self, path: &str, body: Value) -> Response {
        self.req(reqwest::Method::PUT, self.emu.contents_url(path))
            .json(&body)
            .send()
            .unwrap()
    }

    fn delete(&self, path: &str, body: Value) -> Response {
        self.req(reqwest::Method::DELETE, self.emu.contents_url(path))
            .json(&body)
            .send()
            .unwrap()
    }

    fn create(&self, path: &str, bytes: &[u8]) -> Response {
        self.put(
            path,
            json!({"message": format!("add {path}"), "content": b64(bytes)}),
        )
    }
}

fn status_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json().unwrap_or(Value::Null);
    (status, body)
}

fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Shapes

#[test]
fn create_answer_has_the_shape_of_the_recorded_one() {
    let recorded = &fixture("create-file.json")[0]["response"];
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let (status, body) = status_json(api.create("test.txt", b"Test content"));
    assert_eq!(status, 201);
    assert_eq!(keys(&body), keys(recorded));
    assert_eq!(keys(&body["content"]), keys(&recorded["content"]));
    assert_eq!(
        keys(&body["content"]["_links"]),
        keys(&recorded["content"]["_links"])
    );
    assert_eq!(keys(&body["commit"]), keys(&recorded["commit"]));
    for k in ["author", "committer", "tree", "verification"] {
        assert_eq!(
            keys(&body["commit"][k]),
            keys(&recorded["commit"][k]),
            "{k}"
        );
    }
    // Same content, same blob sha as GitHub recorded.
    assert_eq!(body["content"]["sha"], recorded["content"]["sha"]);
    assert_eq!(body["content"]["size"], 12);
    assert_eq!(body["commit"]["message"], "add test.txt");
    assert_eq!(body["commit"]["sha"].as_str().unwrap(), emu.head());
}

#[test]
fn folder_listing_and_file_object_have_the_recorded_shapes() {
    let recorded = fixture("get-content.json");
    let entry = &recorded[0]["response"][0];
    let emu = Emulator::new();
    emu.seed("README.md", b"# hello-world");
    let api = Api::new(&emu);

    let (status, listing) = status_json(api.contents("").send().unwrap());
    assert_eq!(status, 200);
    let listing = listing.as_array().unwrap();
    assert_eq!(listing.len(), 1);
    assert_eq!(keys(&listing[0]), keys(entry));
    assert_eq!(listing[0]["sha"], entry["sha"]);
    assert_eq!(listing[0]["size"], entry["size"]);
    assert_eq!(listing[0]["type"], "file");

    let (status, file) = status_json(api.contents("README.md").send().unwrap());
    assert_eq!(status, 200);
    let mut expected = keys(entry);
    expected.extend(["content".to_string(), "encoding".to_string()]);
    assert_eq!(keys(&file), expected);
    assert_eq!(file["encoding"], "base64");
    assert_eq!(file["content"], format!("{}\n", b64(b"# hello-world")));

    // The recorded raw read: `accept: application/vnd.github.v3.raw` gives the bytes.
    let raw = api
        .contents("README.md")
        .header("accept", "application/vnd.github.v3.raw")
        .send()
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(
        raw.text().unwrap(),
        recorded[1]["response"].as_str().unwrap()
    );
}

#[test]
fn error_bodies_have_the_recorded_keys() {
    let recorded = &fixture("errors.json")[0]["response"];
    let emu = Emulator::new();
    emu.seed("a.txt", b"a");
    let (status, body) = status_json(Api::new(&emu).create("a.txt", b"b"));
    assert_eq!(status, 422);
    // GitHub's 422s carry `message` and `documentation_url`; field errors add `errors`.
    let mut ours = keys(&body);
    ours.remove("status");
    let mut theirs = keys(recorded);
    theirs.remove("errors");
    assert_eq!(ours, theirs);
}

#[test]
fn ref_answer_has_the_recorded_shape() {
    let recorded = &fixture("git-refs.json")[0]["response"][0];
    let emu = Emulator::new();
    let (status, body) = status_json(Api::new(&emu).get("git/ref/heads/main").send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(keys(&body), keys(recorded));
    assert_eq!(keys(&body["object"]), keys(&recorded["object"]));
    assert_eq!(body["ref"], "refs/heads/main");
    assert_eq!(body["object"]["sha"].as_str().unwrap(), emu.head());
    let (status, _) = status_json(Api::new(&emu).get("git/ref/heads/nope").send().unwrap());
    assert_eq!(status, 404);
}

// ---------------------------------------------------------------------------------------------
// Contents: reads

#[test]
fn blob_shas_are_git_hash_object() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let (_, body) = status_json(api.create("hello.txt", b"hello\n"));
    assert_eq!(
        body["content"]["sha"],
        "ce013625030ba8dba906f756967f9e9ca394464a"
    );
    let (_, body) = status_json(api.create("empty", b""));
    assert_eq!(
        body["content"]["sha"],
        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    );
    let (_, file) = status_json(api.contents("empty").send().unwrap());
    assert_eq!(file["content"], "");
    assert_eq!(file["size"], 0);
    assert_eq!(emu.file_sha("hello.txt").unwrap(), git_blob_sha(b"hello\n"));
}

#[test]
fn large_files_need_the_raw_or_object_media_type() {
    let emu = Emulator::new();
    let big = vec![b'x'; 1024 * 1024 + 1];
    emu.seed("big.whl", &big);
    emu.seed("small.whl", &big[..1024 * 1024]);
    let api = Api::new(&emu);

    let (status, body) = status_json(api.contents("big.whl").send().unwrap());
    assert_eq!(status, 403);
    assert!(message(&body).starts_with("This API returns blobs up to 1 MB in size."));
    assert_eq!(body["errors"][0]["code"], "too_large");

    let (status, _) = status_json(api.contents("small.whl").send().unwrap());
    assert_eq!(status, 200);

    for accept in [
        "application/vnd.github.raw+json",
        "application/vnd.github.raw",
    ] {
        let resp = api
            .contents("big.whl")
            .header("accept", accept)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().unwrap().as_ref(), &big[..]);
    }

    let (status, body) = status_json(
        api.contents("big.whl")
            .header("accept", "application/vnd.github.object+json")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(body["content"], "");
    assert_eq!(body["encoding"], "none");
    assert_eq!(body["size"], big.len());
    assert_eq!(body["sha"], git_blob_sha(&big));

    // The Git Data API serves it (GitHub's suggestion in the 403).
    let (status, blob) = status_json(
        api.get(&format!("git/blobs/{}", git_blob_sha(&big)))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(blob["size"], big.len());

    // Only the raw reads and the blob carried the bytes.
    let served: Vec<_> = emu
        .requests()
        .into_iter()
        .filter_map(|r| r.content_served)
        .collect();
    assert_eq!(served, ["small.whl", "big.whl", "big.whl", "big.whl"]);
}

#[test]
fn folder_listings_stop_at_1000_entries_and_trees_list_everything() {
    let emu = Emulator::new();
    let names: Vec<String> = (0..1005).map(|i| format!("pkg/f{i:04}.whl")).collect();
    emu.seed_many(names.iter().map(|n| (n.as_str(), n.as_bytes())));
    emu.seed("index.html", b"root");
    let api = Api::new(&emu);

    let (status, listing) = status_json(api.contents("pkg").send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(listing.as_array().unwrap().len(), 1000);
    let (_, listing) = status_json(api.contents("pkg/").send().unwrap());
    assert_eq!(listing.as_array().unwrap().len(), 1000);

    let (status, tree) = status_json(api.get("git/trees/main:pkg").send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(tree["truncated"], false);
    let entries = tree["tree"].as_array().unwrap();
    assert_eq!(entries.len(), 1005);
    assert_eq!(entries[0]["path"], "f0000.whl");
    assert_eq!(entries[0]["type"], "blob");
    assert_eq!(entries[0]["mode"], "100644");
    assert_eq!(entries[0]["sha"], git_blob_sha(b"pkg/f0000.whl"));
    assert_eq!(entries[0]["size"], 13);
    let pkg_sha = tree["sha"].as_str().unwrap().to_string();
    assert_eq!(Some(pkg_sha.clone()), emu.tree_sha("pkg"));

    // The root's listing names the folder with its tree sha, usable as a tree_ish.
    let (_, root) = status_json(api.contents("").send().unwrap());
    let dir = root
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "pkg")
        .unwrap();
    assert_eq!(dir["type"], "dir");
    assert_eq!(dir["sha"], pkg_sha.as_str());
    let (status, by_sha) = status_json(api.get(&format!("git/trees/{pkg_sha}")).send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(by_sha["tree"].as_array().unwrap().len(), 1005);

    let (_, rec) = status_json(api.get("git/trees/main?recursive=1").send().unwrap());
    let rec = rec["tree"].as_array().unwrap();
    assert_eq!(rec.len(), 1 + 1 + 1005);
    assert_eq!(rec[0]["path"], "index.html");
    assert_eq!(rec[1]["path"], "pkg");
    assert_eq!(rec[1]["type"], "tree");
    assert_eq!(rec[2]["path"], "pkg/f0000.whl");

    let (_, flat) = status_json(api.get("git/trees/main").send().unwrap());
    assert_eq!(flat["tree"].as_array().unwrap().len(), 2);

    for bad in [
        "git/trees/main:nope",
        "git/trees/feature",
        "git/trees/0123456789012345678901234567890123456789",
    ] {
        let (status, _) = status_json(api.get(bad).send().unwrap());
        assert_eq!(status, 404, "{bad}");
    }
}

#[test]
fn reads_by_ref_missing_paths_and_unknown_refs() {
    let emu = Emulator::new();
    let first = emu.seed("a.txt", b"one");
    emu.seed("a.txt", b"two");
    let api = Api::new(&emu);
    let (_, now) = status_json(api.contents("a.txt?ref=main").send().unwrap());
    assert_eq!(now["sha"], git_blob_sha(b"two"));
    let (_, then) = status_json(api.contents(&format!("a.txt?ref={first}")).send().unwrap());
    assert_eq!(then["sha"], git_blob_sha(b"one"));

    let (status, body) = status_json(api.contents("nope.txt").send().unwrap());
    assert_eq!(status, 404);
    assert_eq!(message(&body), "Not Found");
    assert_eq!(body["status"], "404");
    let (status, body) = status_json(api.contents("a.txt?ref=feature").send().unwrap());
    assert_eq!(status, 404);
    assert_eq!(message(&body), "No commit found for the ref feature");
    // A path below a file does not exist.
    let (status, _) = status_json(api.contents("a.txt/b").send().unwrap());
    assert_eq!(status, 404);
}

#[test]
fn percent_encoded_paths_name_the_same_file() {
    let emu = Emulator::new();
    let name = "dace/dace-43!2026.2.3-py3-none-any.whl";
    let api = Api::new(&emu);
    assert_eq!(api.create(name, b"wheel").status(), 201);
    let (status, file) = status_json(
        api.contents("dace/dace-43%212026.2.3-py3-none-any.whl")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(file["path"], name);
    // download_url works without auth and costs no API rate limit.
    let url = file["download_url"].as_str().unwrap();
    let resp = client_builder().build().unwrap().get(url).send().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().unwrap().as_ref(), b"wheel");
    let last = emu.requests().pop().unwrap();
    assert!(last.raw_download);
    assert_eq!(last.content_served.as_deref(), Some(name));
}

#[test]
fn etags_answer_304_without_rate_limit_cost() {
    let emu = Emulator::new();
    emu.seed("index.html", b"page");
    let api = Api::new(&emu);
    let first = api.contents("index.html").send().unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let used: u32 = first.headers()["x-ratelimit-used"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let again = api
        .contents("index.html")
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    let used_after: u32 = again.headers()["x-ratelimit-used"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(used_after, used);
    emu.seed("index.html", b"page 2");
    let changed = api
        .contents("index.html")
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(changed.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Contents: writes

#[test]
fn update_needs_the_current_sha() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let (_, created) = status_json(api.create("p/index.html", b"v1"));
    let sha1 = created["content"]["sha"].as_str().unwrap().to_string();

    let (status, body) = status_json(api.create("p/index.html", b"v2"));
    assert_eq!(status, 422);
    assert_eq!(
        message(&body),
        "Invalid request.\n\n\"sha\" wasn't supplied."
    );

    let (status, body) = status_json(api.put(
        "p/index.html",
        json!({"message": "m", "content": b64(b"v2"), "sha": sha1}),
    ));
    assert_eq!(status, 200);
    assert_eq!(body["content"]["sha"], git_blob_sha(b"v2"));

    let (status, body) = status_json(api.put(
        "p/index.html",
        json!({"message": "m", "content": b64(b"v3"), "sha": sha1}),
    ));
    assert_eq!(status, 409);
    assert_eq!(
        message(&body),
        format!("p/index.html does not match {sha1}")
    );

    let (status, body) = status_json(api.put(
        "p/index.html",
        json!({"message": "m", "content": b64(b"v3"), "sha": null}),
    ));
    assert_eq!(status, 422);
    assert_eq!(
        message(&body),
        "Invalid request.\n\nFor 'properties/sha', nil is not a string."
    );

    assert_eq!(emu.file("p/index.html").unwrap(), b"v2");
    let kinds: Vec<_> = emu.api_commits().iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [CommitKind::Create, CommitKind::Update]);
    assert_eq!(emu.commits().len(), 3);
}

#[test]
fn sha_for_a_missing_file_creates_it_conflicts_or_is_refused() {
    // GitHub's measured behaviour (the default): the sha is ignored and the file created.
    let emu = Emulator::new();
    let sha = git_blob_sha(b"old");
    let body = json!({"message": "m", "content": b64(b"x"), "sha": sha});
    let (status, v) = status_json(Api::new(&emu).put("gone.txt", body.clone()));
    assert_eq!(status, 201, "{v}");
    assert_eq!(emu.file("gone.txt").unwrap(), b"x");
    assert_eq!(emu.api_commits()[0].kind, CommitKind::Create);

    let emu = Emulator::start(Config {
        sha_for_missing_file: MissingFileSha::Conflict,
        ..Config::default()
    });
    let (status, v) = status_json(Api::new(&emu).put("gone.txt", body.clone()));
    assert_eq!(status, 409);
    assert_eq!(message(&v), format!("gone.txt does not match {sha}"));
    assert!(emu.files().is_empty());

    let emu = Emulator::start(Config {
        sha_for_missing_file: MissingFileSha::Unprocessable,
        ..Config::default()
    });
    let (status, _) = status_json(Api::new(&emu).put("gone.txt", body));
    assert_eq!(status, 422);
    assert!(emu.files().is_empty());
}

#[test]
fn malformed_writes_are_refused() {
    let emu = Emulator::new();
    emu.seed("dir/file", b"x");
    let api = Api::new(&emu);
    let cases = [
        (
            json!({"content": b64(b"x")}),
            "a",
            422,
            "Invalid request.\n\n\"message\" wasn't supplied.",
        ),
        (
            json!({}),
            "a",
            422,
            "Invalid request.\n\n\"message\", \"content\" weren't supplied.",
        ),
        (
            json!({"message": "m", "content": "%%%not base64"}),
            "a",
            422,
            "Invalid request.\n\ncontent is not valid Base64.",
        ),
        (
            json!({"message": "m", "content": b64(b"x"), "branch": "dev"}),
            "a",
            404,
            "Branch dev not found",
        ),
        (
            json!({"message": "m", "content": b64(b"x")}),
            "dir",
            422,
            "Invalid request.\n\n\"dir\" is a directory.",
        ),
        (
            json!({"message": "m", "content": b64(b"x")}),
            "dir/file/x",
            422,
            "Invalid request.\n\n\"dir/file\" is a file, not a directory.",
        ),
        (
            json!({"message": 5, "content": b64(b"x")}),
            "a",
            422,
            "Invalid request.\n\nFor 'properties/message', 5 is not a string.",
        ),
    ];
    for (body, path, status, msg) in cases {
        let (s, v) = status_json(api.put(path, body.clone()));
        assert_eq!((s, message(&v)), (status, msg), "{body}");
    }
    let resp = api
        .req(reqwest::Method::PUT, emu.contents_url("a"))
        .body("{not json")
        .send()
        .unwrap();
    let (s, v) = status_json(resp);
    assert_eq!((s, message(&v)), (400, "Problems parsing JSON"));
    // Line-broken base64, as GitHub itself sends it, is accepted.
    let (s, _) = status_json(api.put(
        "wrapped",
        json!({"message": "m", "content": "aGVs\nbG8K\n"}),
    ));
    assert_eq!(s, 201);
    assert_eq!(emu.file("wrapped").unwrap(), b"hello\n");
    assert_eq!(emu.api_commits().len(), 1);
}

#[test]
fn files_over_the_size_limit_are_refused() {
    let emu = Emulator::start(Config {
        max_file_size: 1000,
        ..Config::default()
    });
    let api = Api::new(&emu);
    assert_eq!(api.create("ok", &[0; 1000]).status(), 201);
    let (status, v) = status_json(api.create("big", &[0; 1001]));
    assert_eq!(status, 422);
    assert!(
        message(&v).contains("exceeds GitHub's file size limit"),
        "{v}"
    );
    assert!(emu.file("big").is_none());
}

#[test]
fn a_100_mb_upload_is_accepted_and_stored() {
    // A body of ~133 MB (base64 of 100 MiB) must get through, not hit a body limit, once the
    // 40 MiB ceiling of GitHub's front end is lifted.
    let emu = Emulator::start(Config {
        max_body_before_timeout: u64::MAX,
        ..Config::default()
    });
    let bytes = vec![0xA5u8; 100 * 1024 * 1024];
    // Built by hand: serde_json's escaping loop is slow in an unoptimized test binary.
    let body = format!(r#"{{"message": "huge", "content": "{}"}}"#, b64(&bytes));
    let api = Api::new(&emu);
    let resp = api
        .req(reqwest::Method::PUT, emu.contents_url("huge.whl"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    let (status, v) = status_json(resp);
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["content"]["size"], bytes.len());
    assert_eq!(emu.file_sha("huge.whl").unwrap(), git_blob_sha(&bytes));
    assert!(emu.requests()[0].request_bytes > 139_000_000);
}

#[test]
fn delete_rules() {
    let emu = Emulator::new();
    emu.seed("a.txt", b"a");
    let api = Api::new(&emu);
    let (s, v) = status_json(api.delete("a.txt", json!({"message": "rm"})));
    assert_eq!(
        (s, message(&v)),
        (422, "Invalid request.\n\n\"sha\" wasn't supplied.")
    );
    let (s, v) = status_json(api.delete("a.txt", json!({})));
    assert_eq!(
        (s, message(&v)),
        (
            422,
            "Invalid request.\n\n\"message\", \"sha\" weren't supplied."
        )
    );
    let stale = git_blob_sha(b"b");
    let (s, v) = status_json(api.delete("a.txt", json!({"message": "rm", "sha": stale})));
    assert_eq!(
        (s, message(&v)),
        (409, format!("a.txt does not match {stale}").as_str())
    );
    let (s, _) = status_json(api.delete("nope.txt", json!({"message": "rm", "sha": stale})));
    assert_eq!(s, 404);
    let (s, v) =
        status_json(api.delete("a.txt", json!({"message": "rm", "sha": git_blob_sha(b"a")})));
    assert_eq!(s, 200);
    assert_eq!(v["content"], Value::Null);
    assert_eq!(v["commit"]["message"], "rm");
    assert!(emu.files().is_empty());
    assert_eq!(emu.api_commits()[0].kind, CommitKind::Delete);
    assert_eq!(emu.api_commits()[0].changed_path(), Some("a.txt"));
}

#[test]
fn concurrent_writes_to_the_branch_conflict_even_for_different_files() {
    let emu = Emulator::start(Config {
        write_latency: Duration::from_millis(300),
        ..Config::default()
    });
    let head = emu.head();
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = ["one.txt", "two.txt"]
            .into_iter()
            .map(|p| {
                let emu = &emu;
                s.spawn(move || status_json(Api::new(emu).create(p, p.as_bytes())))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let conflict = &results.iter().find(|r| r.0 == 409).unwrap().1;
    let winner = emu.head();
    assert_eq!(
        message(conflict),
        format!("refs/heads/main is at {winner} but expected {head}")
    );
    assert_eq!(emu.api_commits().len(), 1);
    assert_eq!(emu.files().len(), 1);

    // Serial writes on top of each other are fine.
    let api = Api::new(&emu);
    assert_eq!(api.create("three.txt", b"3").status(), 201);
    assert_eq!(api.create("four.txt", b"4").status(), 201);
}

#[test]
fn an_empty_repository_gets_its_first_commit_from_a_put() {
    let emu = Emulator::start(Config {
        start_empty: true,
        ..Config::default()
    });
    assert!(emu.commits().is_empty());
    let api = Api::new(&emu);
    let (s, v) = status_json(api.contents("").send().unwrap());
    assert_eq!((s, message(&v)), (404, "This repository is empty."));
    let (s, v) = status_json(api.get("git/trees/main").send().unwrap());
    assert_eq!((s, message(&v)), (409, "Git Repository is empty."));
    assert_eq!(api.get("branches/main").send().unwrap().status(), 404);
    let (_, repo) = status_json(api.get("").send().unwrap());
    assert_eq!(repo["default_branch"], "main");

    let (s, v) = status_json(api.create("index.html", b"root"));
    assert_eq!(s, 201);
    assert_eq!(v["commit"]["parents"], json!([]));
    assert_eq!(emu.commits().len(), 1);
    assert_eq!(emu.commits()[0].parent, None);
    assert_eq!(api.get("git/trees/main").send().unwrap().status(), 200);
}

#[test]
fn commits_carry_the_committer_and_chain_to_their_parent() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let before = emu.head();
    let (s, v) = status_json(api.put(
        "x",
        json!({"message": "m", "content": b64(b"x"),
               "committer": {"name": "Bot", "email": "bot@example.com"}}),
    ));
    assert_eq!(s, 201);
    assert_eq!(v["commit"]["committer"]["name"], "Bot");
    assert_eq!(v["commit"]["parents"][0]["sha"], before.as_str());
    let c = emu.commits().pop().unwrap();
    assert_eq!(c.parent.as_deref(), Some(before.as_str()));
    assert_eq!(c.committer.email, "bot@example.com");
    assert_eq!(c.tree, emu.tree_sha("").unwrap());
    let (s, v) = status_json(api.put(
        "y",
        json!({"message": "m", "content": b64(b"y"), "committer": {"name": "Bot"}}),
    ));
    assert_eq!(
        (s, message(&v)),
        (422, "Invalid request.\n\n\"email\" wasn't supplied.")
    );
}

// ---------------------------------------------------------------------------------------------
// Auth, repository, headers

#[test]
fn auth_rules() {
    let emu = Emulator::start(Config {
        read_only_token: Some("ghp_readonly".into()),
        ..Config::default()
    });
    emu.seed("a", b"a");
    let api = Api::new(&emu);

    let bad = Api::new(&emu).with_token(Some("ghp_wrong"));
    let (s, v) = status_json(bad.contents("a").send().unwrap());
    assert_eq!((s, message(&v)), (401, "Bad credentials"));
    let (s, _) = status_json(bad.create("b", b"b"));
    assert_eq!(s, 401);

    let anon = Api::new(&emu).with_token(None);
    assert_eq!(anon.contents("a").send().unwrap().status(), 200);
    let (s, v) = status_json(anon.create("b", b"b"));
    assert_eq!((s, message(&v)), (401, "Requires authentication"));
    let (_, repo) = status_json(anon.get("").send().unwrap());
    assert!(repo.get("permissions").is_none());

    let ro = Api::new(&emu).with_token(Some("ghp_readonly"));
    assert_eq!(ro.contents("a").send().unwrap().status(), 200);
    let resp = ro.create("b", b"b");
    assert_eq!(
        resp.headers()["x-accepted-github-permissions"],
        "contents=write"
    );
    let (s, v) = status_json(resp);
    assert_eq!(
        (s, message(&v)),
        (403, "Resource not accessible by integration")
    );
    let (_, repo) = status_json(ro.get("").send().unwrap());
    assert_eq!(repo["permissions"]["push"], false);

    let (_, repo) = status_json(api.get("").send().unwrap());
    assert_eq!(repo["permissions"]["push"], true);
    assert_eq!(repo["default_branch"], "main");
    assert_eq!(repo["full_name"], "GridTools/pypi");

    // `token X` works like `Bearer X`.
    let resp = api
        .http
        .get(emu.contents_url("a"))
        .header("authorization", format!("token {}", emu.token()))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Tokens can be rotated at run time.
    emu.set_token("ghp_new");
    assert_eq!(api.contents("a").send().unwrap().status(), 401);
    assert!(emu.files().len() == 1);
}

#[test]
fn requests_without_a_user_agent_are_forbidden() {
    let emu = Emulator::new();
    let resp = client_builder()
        .build()
        .unwrap()
        .get(emu.contents_url(""))
        .bearer_auth(emu.token())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp
        .text()
        .unwrap()
        .starts_with("Request forbidden by administrative rules. Please make sure your request has a User-Agent header"));
    let r = &emu.requests()[0];
    assert_eq!(r.user_agent, None);
    assert!(r.has_auth);
    assert_eq!(r.status, Some(403));
}

#[test]
fn unknown_repositories_and_branches() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let url = format!("{}/repos/GridTools/other/contents/", emu.api_url());
    let (s, v) = status_json(api.req(reqwest::Method::GET, url).send().unwrap());
    assert_eq!((s, message(&v)), (404, "Not Found"));
    // Owner and repository names are case-insensitive, as on GitHub.
    let url = format!("{}/repos/gridtools/PyPI/contents/", emu.api_url());
    assert_eq!(
        api.req(reqwest::Method::GET, url).send().unwrap().status(),
        200
    );
    let (s, v) = status_json(api.get("branches/main").send().unwrap());
    assert_eq!(s, 200);
    assert_eq!(v["commit"]["sha"].as_str().unwrap(), emu.head());
    let (s, _) = status_json(api.get("branches/dev").send().unwrap());
    assert_eq!(s, 404);

    let private = Emulator::start(Config {
        private: true,
        ..Config::default()
    });
    let anon = Api::new(&private).with_token(None);
    assert_eq!(anon.contents("").send().unwrap().status(), 404);
    assert_eq!(
        Api::new(&private).contents("").send().unwrap().status(),
        200
    );
}

#[test]
fn api_prefix_moves_every_endpoint() {
    let emu = Emulator::start(Config {
        api_prefix: "/api/v3".into(),
        ..Config::default()
    });
    assert!(emu.api_url().ends_with("/api/v3"));
    let api = Api::new(&emu);
    assert_eq!(api.create("a", b"a").status(), 201);
    let (_, v) = status_json(api.contents("a").send().unwrap());
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .contains("/api/v3/repos/GridTools/pypi/contents/a")
    );
    let url = format!(
        "{}/repos/GridTools/pypi/contents/a",
        emu.api_url().trim_end_matches("/api/v3")
    );
    assert_eq!(
        api.req(reqwest::Method::GET, url).send().unwrap().status(),
        404
    );
}

#[test]
fn requests_are_recorded() {
    let emu = Emulator::new();
    emu.seed("a", b"a");
    let api = Api::new(&emu);
    api.contents("a").send().unwrap();
    api.create("b", b"b");
    let log = emu.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/repos/GridTools/pypi/contents/a");
    assert_eq!(log[0].status, Some(200));
    assert_eq!(
        log[0].accept.as_deref(),
        Some("application/vnd.github+json")
    );
    assert_eq!(log[0].api_version.as_deref(), Some("2022-11-28"));
    assert_eq!(log[0].user_agent.as_deref(), Some("github-emulator-tests"));
    assert!(log[0].has_auth);
    assert!(log[0].response_bytes > 0);
    assert_eq!(log[0].content_served.as_deref(), Some("a"));
    assert!(log[1].is_write());
    assert_eq!(log[1].status, Some(201));
    assert!(log[1].request_bytes > 0);
    assert_eq!(log[1].commit.as_deref(), Some(emu.head().as_str()));
    emu.reset_requests();
    assert!(emu.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[test]
fn primary_rate_limit() {
    let emu = Emulator::start(Config {
        rate_limit: RateLimitConfig {
            limit: 3,
            window: Duration::from_millis(1500),
        },
        ..Config::default()
    });
    emu.seed("a", b"a");
    let api = Api::new(&emu);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for i in 1..=3u32 {
        let resp = api.contents("a").send().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
        assert_eq!(resp.headers()["x-ratelimit-used"], i.to_string().as_str());
        assert_eq!(
            resp.headers()["x-ratelimit-remaining"],
            (3 - i).to_string().as_str()
        );
        assert_eq!(resp.headers()["x-ratelimit-resource"], "core");
    }
    let resp = api.contents("a").send().unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    let reset: u64 = resp.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > start && reset <= start + 3, "{reset} vs {start}");
    let (_, v) = status_json(resp);
    assert!(message(&v).starts_with("API rate limit exceeded"));
    // Writes are refused too, and change nothing.
    assert_eq!(api.create("b", b"b").status(), 403);
    assert!(emu.file("b").is_none());

    // Waiting until the reset second renews the budget.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(Duration::from_secs(reset).saturating_sub(now));
    assert_eq!(api.contents("a").send().unwrap().status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[test]
fn status_faults_fire_on_the_matching_requests_only() {
    let emu = Emulator::new();
    emu.seed("a", b"a");
    let api = Api::new(&emu);
    let get = emu.contents_path("a");
    emu.set_faults(
        FaultPlan::next("GET", &get, 1, Fault::status(500))
            .with_rule(github_emulator::FaultRule::new(
                "GET",
                &get,
                1,
                Fault::ServerError {
                    status: 502,
                    html: true,
                },
            ))
            .with_rule(github_emulator::FaultRule::new(
                "GET",
                &get,
                1,
                Fault::ServerError {
                    status: 503,
                    html: false,
                },
            ))
            .with_rule(github_emulator::FaultRule::new(
                "*",
                &get,
                1,
                Fault::TooManyRequests {
                    retry_after_secs: 1,
                },
            ))
            .with_rule(github_emulator::FaultRule::new(
                "GET",
                &get,
                1,
                Fault::SecondaryRateLimit {
                    retry_after_secs: Some(2),
                },
            )),
    );
    // Other paths are untouched.
    assert_eq!(api.contents("").send().unwrap().status(), 200);

    let r = api.contents("a").send().unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(status_json(r).1, json!({"message": "Server Error"}));

    let r = api.contents("a").send().unwrap();
    assert_eq!(r.status(), 502);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().unwrap().contains("Unicorn!"));

    assert_eq!(api.contents("a").send().unwrap().status(), 503);

    let r = api.contents("a").send().unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");

    let r = api.contents("a").send().unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_ne!(r.headers()["x-ratelimit-remaining"], "0");
    assert!(message(&status_json(r).1).starts_with("You have exceeded a secondary rate limit"));

    assert_eq!(api.contents("a").send().unwrap().status(), 200);
    assert!(emu.faults().rules.iter().all(|r| r.times == 0));
    let faults: Vec<_> = emu.requests().iter().map(|r| r.fault.is_some()).collect();
    assert_eq!(faults, [false, true, true, true, true, true, false]);
}

#[test]
fn drop_before_apply_closes_the_connection_and_writes_nothing() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    emu.set_faults(FaultPlan::next(
        "PUT",
        &emu.contents_path("a"),
        1,
        Fault::DropBeforeApply,
    ));
    let err = api
        .req(reqwest::Method::PUT, emu.contents_url("a"))
        .json(&json!({"message": "m", "content": b64(b"a")}))
        .send()
        .unwrap_err();
    assert!(!err.is_status(), "{err}");
    assert!(emu.file("a").is_none());
    assert!(emu.api_commits().is_empty());
    let r = &emu.requests()[0];
    assert_eq!(r.status, None);
    assert_eq!(r.fault, Some(Fault::DropBeforeApply));
    // The retry goes through.
    assert_eq!(api.create("a", b"a").status(), 201);
}

#[test]
fn drop_after_apply_commits_the_write_but_answers_nothing() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    emu.add_fault(github_emulator::FaultRule::new(
        "PUT",
        "",
        1,
        Fault::DropAfterApply,
    ));
    let err = api
        .req(reqwest::Method::PUT, emu.contents_url("a"))
        .json(&json!({"message": "m", "content": b64(b"a")}))
        .send()
        .unwrap_err();
    assert!(!err.is_status(), "{err}");
    assert_eq!(emu.file("a").unwrap(), b"a");
    assert_eq!(emu.api_commits().len(), 1);
    let r = &emu.requests()[0];
    assert_eq!(r.status, None);
    assert_eq!(r.commit.as_deref(), Some(emu.head().as_str()));
    // A blind retry now needs the sha: the next read shows the write happened.
    let (s, _) = status_json(api.create("a", b"a"));
    assert_eq!(s, 422);
    let (_, file) = status_json(api.contents("a").send().unwrap());
    assert_eq!(file["sha"], git_blob_sha(b"a"));
}

#[test]
fn latency_faults_and_configured_latency_delay_answers() {
    let emu = Emulator::new();
    emu.set_faults(FaultPlan::next(
        "GET",
        "",
        1,
        Fault::Latency(Duration::from_millis(300)),
    ));
    let api = Api::new(&emu);
    let t = Instant::now();
    assert_eq!(api.contents("").send().unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    api.contents("").send().unwrap();
    assert!(t.elapsed() < Duration::from_millis(300));
    emu.set_latency(Duration::from_millis(200), Duration::ZERO);
    let t = Instant::now();
    api.contents("").send().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[test]
fn random_faults_hit_about_the_given_share_of_requests() {
    let emu = Emulator::start(Config {
        faults: FaultPlan::none().with_random(github_emulator::RandomFaults {
            probability: 0.5,
            faults: vec![Fault::status(503), Fault::DropBeforeApply],
            seed: 42,
            methods: vec!["GET".into()],
        }),
        ..Config::default()
    });
    let api = Api::new(&emu);
    let mut failed = 0;
    for _ in 0..40 {
        match api.contents("").send() {
            Ok(r) if r.status() == 200 => {}
            _ => failed += 1,
        }
    }
    assert!((8..=32).contains(&failed), "{failed}");
    // Writes were excluded by `methods`.
    assert_eq!(api.create("a", b"a").status(), 201);
}

// ---------------------------------------------------------------------------------------------
// Export

#[test]
fn export_writes_the_tree() {
    let emu = Emulator::new();
    emu.seed_many([
        ("index.html", &b"root"[..]),
        ("dace/index.html", b"page"),
        ("dace/dace-1.0-py3-none-any.whl", b"wheel"),
    ]);
    let dir = std::env::temp_dir().join(format!("github-emulator-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    emu.export_to(&dir).unwrap();
    assert_eq!(std::fs::read(dir.join("index.html")).unwrap(), b"root");
    assert_eq!(std::fs::read(dir.join("dace/index.html")).unwrap(), b"page");
    assert_eq!(
        std::fs::read(dir.join("dace/dace-1.0-py3-none-any.whl")).unwrap(),
        b"wheel"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(emu.commits()[1].kind, CommitKind::Seed);
    assert_eq!(emu.commits()[1].paths.len(), 3);
}
