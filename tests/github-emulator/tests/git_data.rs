//! The Git Data API: blobs, trees, commits and ref updates, with object ids checked against the
//! real `git` binary.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use github_emulator::{CommitKind, Config, Emulator, Fault, FaultPlan, git_blob_sha};
use serde_json::{Value, json};
use support::{Api, b64, message};

/// A scratch git repository, removed on drop.
struct GitRepo(PathBuf);

impl GitRepo {
    fn new(name: &str) -> GitRepo {
        let dir = std::env::temp_dir().join(format!("emu-git-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let repo = GitRepo(dir);
        repo.git(&["init", "-q"], None, &[]);
        repo
    }

    fn git(&self, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(&self.0)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("run git");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn hash_object(&self, bytes: &[u8]) -> String {
        self.git(&["hash-object", "-w", "--stdin"], Some(bytes), &[])
    }

    /// The tree of exactly these files (nested paths allowed), via the index.
    fn tree_of(&self, files: &[(&str, &[u8])]) -> String {
        let _ = std::fs::remove_file(self.0.join(".git/index"));
        for (path, bytes) in files {
            let sha = self.hash_object(bytes);
            self.git(
                &[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("100644,{sha},{path}"),
                ],
                None,
                &[],
            );
        }
        self.git(&["write-tree"], None, &[])
    }

    fn commit_tree(&self, tree: &str, parents: &[&str], message: &str, date: &str) -> String {
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.push("-p");
            args.push(p);
        }
        args.push("-m");
        args.push(message);
        self.git(
            &args,
            None,
            &[
                ("GIT_AUTHOR_NAME", "Ann Author"),
                ("GIT_AUTHOR_EMAIL", "ann@example.com"),
                ("GIT_AUTHOR_DATE", date),
                ("GIT_COMMITTER_NAME", "Cid Committer"),
                ("GIT_COMMITTER_EMAIL", "cid@example.com"),
                ("GIT_COMMITTER_DATE", date),
            ],
        )
    }
}

impl Drop for GitRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn head_tree(api: &Api) -> String {
    let (status, v) = api.get(&format!("git/commits/{}", api.emu.head()));
    assert_eq!(status, 200, "{v}");
    v["tree"]["sha"].as_str().unwrap().to_string()
}

fn blob(api: &Api, bytes: &[u8]) -> String {
    let (status, v) = api.post(
        "git/blobs",
        &json!({"content": b64(bytes), "encoding": "base64"}),
    );
    assert_eq!(status, 201, "{v}");
    v["sha"].as_str().unwrap().to_string()
}

fn tree(api: &Api, body: Value) -> String {
    let (status, v) = api.post("git/trees", &body);
    assert_eq!(status, 201, "{v}");
    v["sha"].as_str().unwrap().to_string()
}

fn commit(api: &Api, tree: &str, parents: &[&str], msg: &str) -> String {
    let (status, v) = api.post(
        "git/commits",
        &json!({"message": msg, "tree": tree, "parents": parents}),
    );
    assert_eq!(status, 201, "{v}");
    v["sha"].as_str().unwrap().to_string()
}

#[test]
fn blob_tree_and_commit_shas_are_gits() {
    let git = GitRepo::new("shas");
    let _ = path(&git.0);
    let emu = Emulator::new();
    emu.seed_many([
        ("index.html", b"<html>root</html>".as_slice()),
        ("dace/index.html", b"<html>dace</html>".as_slice()),
        ("dace/old.whl", b"old wheel".as_slice()),
    ]);
    let api = Api::new(&emu);

    // Blobs, base64 and utf-8, equal `git hash-object`.
    let wheel = b"\x00\x01PK binary wheel\xff".to_vec();
    let (status, v) = api.post(
        "git/blobs",
        &json!({"content": b64(&wheel), "encoding": "base64"}),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sha", "url"]
    );
    let wheel_sha = v["sha"].as_str().unwrap().to_string();
    assert_eq!(wheel_sha, git.hash_object(&wheel));
    let (status, v) = api.post("git/blobs", &json!({"content": "page\n"}));
    assert_eq!(status, 201);
    assert_eq!(v["sha"], git.hash_object(b"page\n"));
    assert!(
        emu.requests()
            .iter()
            .any(|r| r.created.as_deref() == Some(&wheel_sha))
    );
    // The new blob is readable at once, by sha.
    let (status, v) = api.get(&format!("git/blobs/{wheel_sha}"));
    assert_eq!(
        (status, v["size"].as_u64()),
        (200, Some(wheel.len() as u64))
    );

    // A tree on the head's: add a nested file, replace one, delete one, one inline content.
    let base = head_tree(&api);
    assert_eq!(base, emu.tree_sha("").unwrap());
    let (status, v) = api.post(
        "git/trees",
        &json!({"base_tree": base, "tree": [
            {"path": "dace/dace-1.0-py3-none-any.whl", "mode": "100644", "type": "blob", "sha": wheel_sha},
            {"path": "dace/index.html", "mode": "100644", "type": "blob", "content": "<html>new</html>"},
            {"path": "dace/old.whl", "mode": "100644", "type": "blob", "sha": null},
            {"path": "ghex/index.html", "mode": "100644", "type": "blob", "content": "<html>ghex</html>"},
        ]}),
    );
    assert_eq!(status, 201, "{v}");
    let new_tree = v["sha"].as_str().unwrap().to_string();
    let expected = git.tree_of(&[
        ("index.html", b"<html>root</html>"),
        ("dace/index.html", b"<html>new</html>"),
        ("dace/dace-1.0-py3-none-any.whl", &wheel),
        ("ghex/index.html", b"<html>ghex</html>"),
    ]);
    assert_eq!(new_tree, expected);
    // The answer lists the top level, like GitHub's.
    let names: Vec<&str> = v["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dace", "ghex", "index.html"]);
    // The tree is readable by sha, recursively.
    let (status, v) = api.get(&format!("git/trees/{new_tree}?recursive=1"));
    assert_eq!(status, 200);
    assert_eq!(v["tree"].as_array().unwrap().len(), 6);
    // Without base_tree the tree holds only the entries given.
    let lone = tree(
        &api,
        json!({"tree": [{"path": "a/b.txt", "mode": "100644", "type": "blob", "sha": git_blob_sha(b"page\n")}]}),
    );
    assert_eq!(lone, git.tree_of(&[("a/b.txt", b"page\n")]));

    // Commits with explicit author and committer dates equal `git commit-tree`.
    let date = "2026-02-03T04:05:06+01:00";
    let who = |name: &str, email: &str| json!({"name": name, "email": email, "date": date});
    let body = |tree: &str, parents: Vec<&str>| {
        json!({
            "message": "Publish dace 1.0",
            "tree": tree,
            "parents": parents,
            "author": who("Ann Author", "ann@example.com"),
            "committer": who("Cid Committer", "cid@example.com"),
        })
    };
    let (status, first) = api.post("git/commits", &body(&lone, vec![]));
    assert_eq!(status, 201, "{first}");
    let first_sha = first["sha"].as_str().unwrap().to_string();
    assert_eq!(
        first_sha,
        git.commit_tree(&lone, &[], "Publish dace 1.0", "1770087906 +0100")
    );
    assert_eq!(first["tree"]["sha"], lone);
    assert_eq!(first["message"], "Publish dace 1.0");
    assert_eq!(first["parents"], json!([]));
    assert_eq!(first["author"]["date"], "2026-02-03T03:05:06Z");
    let (status, second) = api.post("git/commits", &body(&new_tree, vec![&first_sha]));
    assert_eq!(status, 201);
    assert_eq!(
        second["sha"],
        git.commit_tree(
            &new_tree,
            &[&first_sha],
            "Publish dace 1.0",
            "1770087906 +0100"
        )
    );
    assert_eq!(second["parents"][0]["sha"], first_sha);
    // GET /git/commits/{sha} shows the same object.
    let (status, got) = api.get(&format!("git/commits/{}", second["sha"].as_str().unwrap()));
    assert_eq!(status, 200);
    assert_eq!(got, second);
}

#[test]
fn a_commit_moves_the_branch_only_through_a_ref_update() {
    let emu = Emulator::new();
    emu.seed_many([
        ("index.html", b"root".as_slice()),
        ("dace/index.html", b"dace".as_slice()),
    ]);
    let api = Api::new(&emu);
    let old_head = emu.head();
    let wheel = blob(&api, b"wheel bytes");
    let new_tree = tree(
        &api,
        json!({"base_tree": head_tree(&api), "tree": [
            {"path": "dace/d-1.whl", "mode": "100644", "type": "blob", "sha": wheel},
            {"path": "dace/index.html", "mode": "100644", "type": "blob", "content": "dace 2"},
        ]}),
    );
    let c = commit(&api, &new_tree, &[&old_head], "Publish d 1");
    // Stored, readable by sha, but the branch has not moved.
    assert_eq!(emu.head(), old_head);
    assert!(emu.file("dace/d-1.whl").is_none());
    let (status, v) = api.get(&format!("contents/dace/d-1.whl?ref={c}"));
    assert_eq!((status, v["sha"].as_str()), (200, Some(wheel.as_str())));
    let commits_before = emu.commits().len();

    emu.reset_requests();
    let (status, v) = api.patch(
        &format!("git/refs/heads/{}", emu.branch()),
        &json!({"sha": c, "force": false}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ref"], "refs/heads/main");
    assert_eq!(v["object"]["sha"], c);
    assert_eq!(v["object"]["type"], "commit");
    assert_eq!(emu.head(), c);
    assert_eq!(emu.file("dace/d-1.whl").unwrap(), b"wheel bytes");
    assert_eq!(emu.file("dace/index.html").unwrap(), b"dace 2");
    let commits = emu.commits();
    assert_eq!(commits.len(), commits_before + 1);
    let last = commits.last().unwrap();
    assert_eq!(last.kind, CommitKind::GitData);
    assert!(last.via_api());
    assert_eq!(last.sha, c);
    assert_eq!(last.parent.as_deref(), Some(old_head.as_str()));
    assert_eq!(last.paths, ["dace/d-1.whl", "dace/index.html"]);
    assert_eq!(last.message, "Publish d 1");
    assert_eq!(emu.api_commits().len(), 1);
    let record = &emu.requests()[0];
    assert_eq!(record.commit.as_deref(), Some(c.as_str()));
    assert!(record.is_write());

    // The ref and branch reads show the new head.
    let (_, v) = api.get("git/ref/heads/main");
    assert_eq!(v["object"]["sha"], c);
    let (_, v) = api.get("branches/main");
    assert_eq!(v["commit"]["sha"], c);
    assert_eq!(v["commit"]["commit"]["tree"]["sha"], new_tree);

    // Setting the ref to the head again changes nothing and records no commit.
    let (status, _) = api.patch("git/refs/heads/main", &json!({"sha": c}));
    assert_eq!(status, 200);
    assert_eq!(emu.commits().len(), commits_before + 1);
}

#[test]
fn ref_updates_must_fast_forward_unless_forced() {
    let emu = Emulator::new();
    emu.seed("index.html", b"v1");
    let api = Api::new(&emu);
    let start = emu.head();
    let t1 = tree(
        &api,
        json!({"base_tree": head_tree(&api), "tree": [{"path": "a", "mode": "100644", "type": "blob", "content": "a"}]}),
    );
    let ours = commit(&api, &t1, &[&start], "ours");
    // Meanwhile someone else moves the branch.
    emu.seed("theirs.txt", b"theirs");
    let (status, v) = api.patch("git/refs/heads/main", &json!({"sha": ours, "force": false}));
    assert_eq!((status, message(&v)), (422, "Update is not a fast forward"));
    assert!(emu.file("a").is_none());
    // A descendant of the head several commits down fast-forwards.
    let theirs = emu.head();
    let t2 = tree(
        &api,
        json!({"base_tree": emu.tree_sha("").unwrap(), "tree": [{"path": "b", "mode": "100644", "type": "blob", "content": "b"}]}),
    );
    let c1 = commit(&api, &t2, &[&theirs], "one");
    let c2 = commit(&api, &t2, &[&c1], "two");
    let (status, _) = api.patch("git/refs/heads/main", &json!({"sha": c2}));
    assert_eq!(status, 200);
    assert_eq!(emu.head(), c2);
    // force moves it anywhere, even backwards.
    let (status, _) = api.patch("git/refs/heads/main", &json!({"sha": ours, "force": true}));
    assert_eq!(status, 200);
    assert_eq!(emu.head(), ours);
    assert_eq!(emu.file("a").unwrap(), b"a");
    assert!(emu.file("b").is_none());
    assert_eq!(
        emu.commits().last().unwrap().paths,
        ["a", "b", "theirs.txt"]
    );

    // Unknown objects and refs.
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let (status, v) = api.patch("git/refs/heads/main", &json!({"sha": unknown}));
    assert_eq!((status, message(&v)), (422, "Object does not exist"));
    let (status, v) = api.patch("git/refs/heads/main", &json!({"sha": t1}));
    assert_eq!((status, message(&v)), (422, "Object does not exist"));
    let (status, v) = api.patch("git/refs/heads/dev", &json!({"sha": ours}));
    assert_eq!((status, message(&v)), (422, "Reference does not exist"));
    let (status, v) = api.patch("git/refs/heads/main", &json!({"force": true}));
    assert_eq!(
        (status, message(&v)),
        (422, "Invalid request.\n\n\"sha\" wasn't supplied.")
    );
    let (status, v) = api.patch("git/refs/heads/main", &json!({"sha": ours, "force": "yes"}));
    assert_eq!(
        (status, message(&v)),
        (
            422,
            "Invalid request.\n\nFor 'properties/force', \"yes\" is not a boolean."
        )
    );
    assert_eq!(emu.head(), ours);
}

#[test]
fn malformed_git_data_writes_are_refused() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let cases = [
        (
            "git/blobs",
            json!({}),
            422,
            "Invalid request.\n\n\"content\" wasn't supplied.",
        ),
        (
            "git/blobs",
            json!({"content": "%%%", "encoding": "base64"}),
            422,
            "Invalid request.\n\ncontent is not valid Base64.",
        ),
        (
            "git/trees",
            json!({"base_tree": unknown, "tree": []}),
            422,
            "base_tree is not a valid tree oid",
        ),
        (
            "git/trees",
            json!({"tree": [{"path": "a", "mode": "100644", "type": "blob", "sha": unknown}]}),
            422,
            "tree.sha 0123456789abcdef0123456789abcdef01234567 is not a valid blob",
        ),
        (
            "git/trees",
            json!({"tree": "x"}),
            422,
            "Invalid request.\n\nFor 'properties/tree', \"x\" is not an array.",
        ),
        (
            "git/commits",
            json!({"message": "m", "tree": unknown}),
            422,
            "Tree SHA does not exist",
        ),
        (
            "git/commits",
            json!({"message": "m", "tree": emu.tree_sha("").unwrap(), "parents": [unknown]}),
            422,
            "Parent SHA does not exist or is not a commit object",
        ),
        (
            "git/commits",
            json!({"tree": unknown}),
            422,
            "Invalid request.\n\n\"message\" wasn't supplied.",
        ),
    ];
    for (rest, body, status, msg) in cases {
        let (s, v) = api.post(rest, &body);
        assert_eq!((s, message(&v)), (status, msg), "{rest} {body}");
    }
    let resp = api
        .req(reqwest::Method::POST, "git/trees")
        .body("{nope")
        .send()
        .unwrap();
    assert_eq!(resp.status(), 400);
    // Writes need a token that may write.
    let (s, v) = api
        .with_token(None)
        .post("git/blobs", &json!({"content": "x"}));
    assert_eq!((s, message(&v)), (401, "Requires authentication"));
    assert_eq!(emu.commits().len(), 1);
}

#[test]
fn an_empty_repository_has_no_git_data_api() {
    let emu = Emulator::start(Config {
        start_empty: true,
        ..Config::default()
    });
    let api = Api::new(&emu);
    let (s, v) = api.post("git/blobs", &json!({"content": "x"}));
    assert_eq!((s, message(&v)), (409, "Git Repository is empty."));
    let (s, v) = api.get("git/ref/heads/main");
    assert_eq!((s, message(&v)), (409, "Git Repository is empty."));
    // The first commit comes from the Contents API; then the Git Data API works.
    assert_eq!(api.create("index.html", b"x").0, 201);
    assert_eq!(api.post("git/blobs", &json!({"content": "x"})).0, 201);
}

#[test]
fn faults_hit_git_data_writes_and_a_lost_ref_answer_still_moved_the_branch() {
    let emu = Emulator::new();
    let api = Api::new(&emu);
    let base = emu.tree_sha("").unwrap();

    emu.set_faults(FaultPlan::next(
        "POST",
        &emu.api_path("git/blobs"),
        1,
        Fault::status(502),
    ));
    let (s, _) = api.post("git/blobs", &json!({"content": "lost"}));
    assert_eq!(s, 502);
    let (s, _) = api.get(&format!("git/blobs/{}", git_blob_sha(b"lost")));
    assert_eq!(s, 404, "a failed blob write stores nothing");

    for (rest, fault) in [
        (
            "git/blobs",
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
        ),
        (
            "git/trees",
            Fault::SecondaryRateLimit {
                retry_after_secs: Some(2),
            },
        ),
        ("git/commits", Fault::status(500)),
    ] {
        emu.set_faults(FaultPlan::next("POST", &emu.api_path(rest), 1, fault));
        let body = match rest {
            "git/blobs" => json!({"content": "x"}),
            "git/trees" => json!({"tree": []}),
            _ => json!({"message": "m", "tree": base}),
        };
        let (s, _) = api.post(rest, &body);
        assert!(s == 429 || s == 403 || s == 500, "{rest}: {s}");
        assert_eq!(api.post(rest, &body).0, 201, "{rest} works again");
    }

    // A blob whose answer is lost was stored.
    emu.set_faults(FaultPlan::next(
        "POST",
        &emu.api_path("git/blobs"),
        1,
        Fault::DropAfterApply,
    ));
    assert!(
        api.req(reqwest::Method::POST, "git/blobs")
            .json(&json!({"content": "kept"}))
            .send()
            .is_err()
    );
    assert_eq!(
        api.get(&format!("git/blobs/{}", git_blob_sha(b"kept"))).0,
        200
    );

    let t = tree(
        &api,
        json!({"base_tree": base, "tree": [{"path": "f", "mode": "100644", "type": "blob", "content": "f"}]}),
    );
    let c = commit(&api, &t, &[&emu.head()], "m");
    // Dropped before: nothing moved.
    emu.set_faults(FaultPlan::next(
        "PATCH",
        &emu.api_path("git/refs/"),
        1,
        Fault::DropBeforeApply,
    ));
    assert!(
        api.req(reqwest::Method::PATCH, "git/refs/heads/main")
            .json(&json!({"sha": c}))
            .send()
            .is_err()
    );
    assert_ne!(emu.head(), c);
    // Dropped after: the branch moved, the answer is lost; reading the ref shows it.
    emu.set_faults(FaultPlan::next(
        "PATCH",
        &emu.api_path("git/refs/"),
        1,
        Fault::DropAfterApply,
    ));
    assert!(
        api.req(reqwest::Method::PATCH, "git/refs/heads/main")
            .json(&json!({"sha": c}))
            .send()
            .is_err()
    );
    assert_eq!(emu.head(), c);
    let record = emu
        .requests()
        .into_iter()
        .rfind(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(
        (record.status, record.commit.as_deref()),
        (None, Some(c.as_str()))
    );
    let (_, v) = api.get("git/ref/heads/main");
    assert_eq!(v["object"]["sha"], c);
}
