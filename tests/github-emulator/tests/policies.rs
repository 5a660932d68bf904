//! Repository policies and conditions: stale reads, branch protection and rulesets, the body
//! ceiling, read-only tokens answering 404, SAML SSO, moved repositories and GitHub Pages.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use github_emulator::{
    Config, Emulator, Pages, PagesBuildType, Protection, ReadOnlyWriteAnswer, StalePick,
};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Api, b64, client, message, status_json};

fn sha_of(v: &Value) -> String {
    v["content"]["sha"].as_str().unwrap().to_string()
}

#[test]
fn stale_reads_answer_from_an_older_head_and_reads_by_sha_are_exact() {
    let emu = Emulator::start(Config {
        stale_reads: Duration::from_millis(400),
        stale_pick: StalePick::Oldest,
        ..Config::default()
    });
    let api = Api::new(&emu);
    let old_head = emu.head();
    let old_tree = emu.tree_sha("").unwrap();
    let (status, created) = api.create("a.txt", b"one");
    assert_eq!(status, 201);
    let new_commit = created["commit"]["sha"].as_str().unwrap().to_string();
    assert_eq!(emu.head(), new_commit, "the real head moved");

    // Every read by branch name still sees the old head.
    assert_eq!(api.get("contents/a.txt").0, 404);
    assert_eq!(api.get("contents/a.txt?ref=main").0, 404);
    assert_eq!(api.get("branches/main").1["commit"]["sha"], old_head);
    assert_eq!(api.get("git/ref/heads/main").1["object"]["sha"], old_head);
    assert_eq!(api.get("git/trees/main").1["sha"], old_tree);
    // Reads by sha are exact.
    let (status, v) = api.get(&format!("contents/a.txt?ref={new_commit}"));
    assert_eq!(
        (status, v["sha"].as_str()),
        (200, Some(sha_of(&created).as_str()))
    );
    assert_eq!(api.get(&format!("git/commits/{new_commit}")).0, 200);
    assert_eq!(api.get(&format!("git/blobs/{}", sha_of(&created))).0, 200);

    // Writes are checked against the real head: an update with the new sha works at once.
    let (status, v) = api.put(
        "contents/a.txt",
        &json!({"message": "m", "content": b64(b"two"), "sha": sha_of(&created)}),
    );
    assert_eq!(status, 200, "{v}");
    // And a write that names the stale view's state fails: the file exists on the real head.
    let (status, v) = api.put(
        "contents/a.txt",
        &json!({"message": "m", "content": b64(b"x")}),
    );
    assert_eq!(
        (status, message(&v)),
        (422, "Invalid request.\n\n\"sha\" wasn't supplied.")
    );

    // After the window, reads are current.
    std::thread::sleep(Duration::from_millis(450));
    let (status, v) = api
        .req(Method::GET, "contents/a.txt")
        .header("accept", "application/vnd.github.raw+json")
        .send()
        .map(|r| (r.status().as_u16(), r.bytes().unwrap()))
        .unwrap();
    assert_eq!((status, v.as_ref()), (200, b"two".as_slice()));
    assert_eq!(api.get("branches/main").1["commit"]["sha"], emu.head());

    // Switched off, every read is current at once.
    emu.set_stale_reads(Duration::ZERO);
    api.create("b.txt", b"b");
    assert_eq!(api.get("contents/b.txt").0, 200);
}

#[test]
fn random_stale_reads_mix_heads_from_within_the_window() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let mut heads = vec![emu.head()];
    for i in 0..4 {
        api.create(&format!("f{i}"), b"x");
        heads.push(emu.head());
    }
    emu.set_stale_reads(Duration::from_secs(60));
    let seen: BTreeSet<String> = (0..60)
        .map(|_| {
            api.get("git/ref/heads/main").1["object"]["sha"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.iter().all(|s| heads.contains(s)), "{seen:?}");
}

#[test]
fn protected_branches_refuse_direct_writes_with_githubs_reasons() {
    let emu = Emulator::new();
    emu.seed("old.txt", b"old");
    let api = Api::new(&emu);
    let (_, v) = api.get("branches/main");
    assert_eq!(v["protected"], false);
    assert_eq!(api.get("rules/branches/main").1, json!([]));

    emu.set_protection(Some(Protection::pull_request()));
    let (status, v) = api.create("a.txt", b"x");
    assert_eq!(
        (status, message(&v)),
        (
            409,
            "Could not create file: Changes must be made through a pull request."
        )
    );
    let (status, v) = api.delete(
        "contents/old.txt",
        &json!({"message": "m", "sha": emu.file_sha("old.txt").unwrap()}),
    );
    assert_eq!(
        (status, message(&v)),
        (
            409,
            "Could not delete file: Changes must be made through a pull request."
        )
    );
    // Git Data objects can be made; moving the branch cannot.
    let (status, t) = api.post(
        "git/trees",
        &json!({"base_tree": emu.tree_sha("").unwrap(), "tree": [{"path": "a", "mode": "100644", "type": "blob", "content": "a"}]}),
    );
    assert_eq!(status, 201);
    let (status, c) = api.post(
        "git/commits",
        &json!({"message": "m", "tree": t["sha"], "parents": [emu.head()]}),
    );
    assert_eq!(status, 201);
    let (status, v) = api.patch("git/refs/heads/main", &json!({"sha": c["sha"]}));
    assert_eq!(
        (status, message(&v)),
        (
            422,
            "Protected branch update failed for refs/heads/main.\n\nChanges must be made through a pull request."
        )
    );
    assert_eq!(api.get("branches/main").1["protected"], true);
    let (_, rules) = api.get("rules/branches/main");
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["type"], "pull_request");
    assert_eq!(rules[0]["ruleset_source_type"], "Repository");
    assert_eq!(rules[0]["ruleset_source"], "GridTools/pypi");
    assert_eq!(rules[0]["ruleset_id"], 1);
    assert!(rules[0]["parameters"].is_object());
    assert_eq!(api.get("rules/branches/other").1, json!([]));

    emu.set_protection(Some(Protection::status_checks(&["ci", "lint"])));
    let (status, v) = api.create("a.txt", b"x");
    assert_eq!(
        (status, message(&v)),
        (
            409,
            "Could not create file: 2 of 2 required status checks are expected."
        )
    );
    let (_, rules) = api.get("rules/branches/main");
    assert_eq!(rules[0]["type"], "required_status_checks");
    assert_eq!(
        rules[0]["parameters"]["required_status_checks"],
        json!([{"context": "ci"}, {"context": "lint"}])
    );
    emu.set_protection(Some(Protection::status_checks(&["ci"])));
    let (_, v) = api.patch("git/refs/heads/main", &json!({"sha": c["sha"]}));
    assert_eq!(
        message(&v),
        "Protected branch update failed for refs/heads/main.\n\nRequired status check \"ci\" is expected."
    );

    // A bypass actor's writes go through; the rules are still listed.
    emu.set_protection(Some(Protection::pull_request().with_bypass()));
    assert_eq!(api.create("a.txt", b"x").0, 201);
    assert_eq!(
        api.patch(
            "git/refs/heads/main",
            &json!({"sha": c["sha"], "force": true})
        )
        .0,
        200
    );
    assert_eq!(
        api.get("rules/branches/main").1.as_array().unwrap().len(),
        1
    );

    // Configured at start.
    let emu = Emulator::start(Config {
        protection: Some(Protection::pull_request()),
        ..Config::default()
    });
    assert_eq!(Api::new(&emu).create("a.txt", b"x").0, 409);
    assert!(emu.files().is_empty());
}

#[test]
fn bodies_over_the_ceiling_are_read_then_answered_502_and_nothing_is_written() {
    let emu = Emulator::start(Config {
        max_body_before_timeout: 2000,
        over_ceiling_delay: Duration::from_millis(200),
        ..Config::default()
    });
    let api = Api::new(&emu);
    assert_eq!(api.create("small", &[1; 1000]).0, 201);
    let started = Instant::now();
    let (status, v) = api.create("big", &[2; 2000]);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!((status, v), (502, json!({"message": "Server Error"})));
    assert!(emu.file("big").is_none());
    let record = emu
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PUT")
        .unwrap();
    assert!(record.request_bytes > 2000, "the body was read in full");
    assert_eq!(record.commit, None);
    let (status, _) = api.post(
        "git/blobs",
        &json!({"content": b64(&[3; 2000]), "encoding": "base64"}),
    );
    assert_eq!(status, 502);
    assert_eq!(api.post("git/blobs", &json!({"content": "small"})).0, 201);
    assert_eq!(emu.api_commits().len(), 1);

    // The default ceiling is 40 MiB; the status can be chosen.
    assert_eq!(Config::default().max_body_before_timeout, 40 * 1024 * 1024);
    let emu = Emulator::start(Config {
        max_body_before_timeout: 100,
        over_ceiling_status: 504,
        ..Config::default()
    });
    assert_eq!(Api::new(&emu).create("big", &[0; 200]).0, 504);
}

#[test]
fn read_only_tokens_can_get_404_on_writes() {
    let emu = Emulator::start(Config {
        read_only_token: Some("ro-token".into()),
        read_only_write_answer: ReadOnlyWriteAnswer::NotFound,
        ..Config::default()
    });
    emu.seed("a.txt", b"a");
    let ro = Api::new(&emu).with_token(Some("ro-token"));
    assert_eq!(ro.get("contents/a.txt").0, 200);
    let (_, repo) = ro.get("");
    assert_eq!(repo["permissions"]["push"], false);
    let (status, v) = ro.create("b.txt", b"b");
    assert_eq!((status, message(&v)), (404, "Not Found"));
    let (status, _) = ro.delete(
        "contents/a.txt",
        &json!({"message": "m", "sha": emu.file_sha("a.txt").unwrap()}),
    );
    assert_eq!(status, 404);
    assert_eq!(ro.post("git/blobs", &json!({"content": "x"})).0, 404);
    assert_eq!(
        ro.patch("git/refs/heads/main", &json!({"sha": emu.head()}))
            .0,
        404
    );
    assert_eq!(ro.post("releases", &json!({"tag_name": "t"})).0, 404);

    emu.set_read_only_write_answer(ReadOnlyWriteAnswer::Forbidden);
    let resp = ro
        .req(Method::POST, "git/blobs")
        .json(&json!({"content": "x"}))
        .send()
        .unwrap();
    assert_eq!(
        resp.headers()["x-accepted-github-permissions"],
        "contents=write"
    );
    let (status, v) = status_json(resp);
    assert_eq!(
        (status, message(&v)),
        (403, "Resource not accessible by integration")
    );
    assert_eq!(emu.api_commits().len(), 0);
    // The read-write token sees push: true.
    assert_eq!(Api::new(&emu).get("").1["permissions"]["push"], true);
}

#[test]
fn sso_enforcement_answers_403_with_the_sso_header() {
    let emu = Emulator::new();
    emu.seed("a.txt", b"a");
    let url = "https://github.com/orgs/GridTools/sso?authorization_request=ABC";
    emu.set_sso_required(Some(url));
    let api = Api::new(&emu);
    let resp = api.req(Method::GET, "contents/a.txt").send().unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.headers()["x-github-sso"],
        format!("required; url={url}").as_str()
    );
    let (_, v) = status_json(resp);
    assert_eq!(
        message(&v),
        "Resource protected by organization SAML enforcement. You must grant your Personal \
         Access token access to this organization."
    );
    assert_eq!(api.create("b.txt", b"b").0, 403);
    assert!(emu.file("b.txt").is_none());
    // No token: a public repository's reads still work; a bad token is still 401.
    assert_eq!(Api::new(&emu).with_token(None).get("contents/a.txt").0, 200);
    assert_eq!(
        Api::new(&emu)
            .with_token(Some("bad"))
            .get("contents/a.txt")
            .0,
        401
    );
    emu.set_sso_required(None);
    assert_eq!(api.get("contents/a.txt").0, 200);

    let emu = Emulator::start(Config {
        sso_required: Some(url.into()),
        ..Config::default()
    });
    assert_eq!(Api::new(&emu).get("").0, 403);
}

#[test]
fn a_moved_repository_redirects_and_the_new_name_works() {
    let emu = Emulator::start(Config {
        moved_to: Some(("NewOrg".into(), "new-pypi".into())),
        ..Config::default()
    });
    emu.seed("dace/index.html", b"page");
    let api = Api::new(&emu);
    let resp = api
        .req(Method::GET, "contents/dace/index.html?ref=main")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 301);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!(
            "{}/repositories/1/contents/dace/index.html?ref=main",
            emu.api_url()
        )
    );
    let (_, v) = status_json(resp);
    assert_eq!(
        v,
        json!({
            "message": "Moved Permanently",
            "url": location,
            "documentation_url": "https://docs.github.com/v3/#http-redirects",
        })
    );
    // The redirect target answers.
    let (status, v) = status_json(api.at(Method::GET, &location).send().unwrap());
    assert_eq!((status, v["path"].as_str()), (200, Some("dace/index.html")));
    // A write gets 307 and writes nothing.
    let (status, v) = api.create("x.txt", b"x");
    assert_eq!((status, message(&v)), (307, "Temporary Redirect"));
    assert!(emu.file("x.txt").is_none());
    // The new name works, and answers carry it.
    let new = |rest: &str| format!("{}/repos/NewOrg/new-pypi/{rest}", emu.api_url());
    let (status, v) = status_json(api.at(Method::GET, &new("")).send().unwrap());
    assert_eq!(
        (status, v["full_name"].as_str()),
        (200, Some("NewOrg/new-pypi"))
    );
    let (status, v) = status_json(
        api.at(Method::PUT, &new("contents/x.txt"))
            .json(&json!({"message": "m", "content": b64(b"x")}))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201);
    assert!(
        v["content"]["url"]
            .as_str()
            .unwrap()
            .contains("/repos/NewOrg/new-pypi/")
    );
    // A client that follows redirects reads through the old name.
    let following = reqwest::blocking::Client::builder()
        .user_agent("t")
        .build()
        .unwrap();
    let resp = following
        .get(format!(
            "{}/repos/GridTools/pypi/contents/dace/index.html",
            emu.api_url()
        ))
        .header("accept", "application/vnd.github.raw+json")
        .bearer_auth(emu.token())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().unwrap().as_ref(), b"page");
    let _ = client();
}

#[test]
fn pages_are_off_or_described_like_githubs() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let (status, v) = api.get("pages");
    assert_eq!((status, message(&v)), (404, "Not Found"));

    emu.set_pages(Some(Pages::legacy(
        "main",
        "https://gridtools.github.io/pypi/",
    )));
    let (status, v) = api.get("pages");
    assert_eq!(status, 200);
    assert_eq!(v["build_type"], "legacy");
    assert_eq!(v["source"], json!({"branch": "main", "path": "/"}));
    assert_eq!(v["status"], "built");
    assert_eq!(v["html_url"], "https://gridtools.github.io/pypi/");
    assert_eq!(v["cname"], Value::Null);
    assert_eq!(v["custom_404"], false);
    assert_eq!(v["public"], true);
    assert_eq!(v["https_enforced"], true);
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .ends_with("/repos/GridTools/pypi/pages")
    );

    let emu = Emulator::start(Config {
        pages: Some(Pages {
            build_type: PagesBuildType::Workflow,
            source_branch: "gh-pages".into(),
            source_path: "/docs".into(),
            status: None,
            html_url: "https://example.test/".into(),
        }),
        ..Config::default()
    });
    let (_, v) = Api::new(&emu).get("pages");
    assert_eq!(v["build_type"], "workflow");
    assert_eq!(v["status"], Value::Null);
    assert_eq!(v["source"]["path"], "/docs");
}
