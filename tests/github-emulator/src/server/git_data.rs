//! The Git Data API's writes: blobs, trees, commits and the branch ref, with git's real object
//! ids, and `GET /git/commits/{sha}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{
    Ctx, Resp, TreeWalk, Urls, decode_content, error, invalid, json_resp, missing_fields,
    ref_answer, rfc3339, type_name, valid_write_path,
};
use crate::git::{self, Blob, CommitObject, Signature};
use crate::{Commit, CommitKind, Person, RequestRecord, Shared};

const DOCS_BLOBS: &str = "https://docs.github.com/rest/git/blobs#create-a-blob";
const DOCS_CREATE_TREE: &str = "https://docs.github.com/rest/git/trees#create-a-tree";
const DOCS_COMMITS: &str = "https://docs.github.com/rest/git/commits#create-a-commit";
const DOCS_GET_COMMIT: &str = "https://docs.github.com/rest/git/commits#get-a-commit-object";
const DOCS_REFS: &str = "https://docs.github.com/rest/git/refs#update-a-reference";

/// A Git Data write.
pub(super) enum WriteKind {
    Blob,
    Tree,
    Commit,
    /// `PATCH /git/refs/heads/{branch}`.
    Ref(String),
}

impl WriteKind {
    /// The write `METHOD /git/{sub}` names, if any.
    pub fn parse(method: &str, sub: &str) -> Option<WriteKind> {
        let sub = sub.trim_end_matches('/');
        match (method, sub) {
            ("POST", "blobs") => Some(WriteKind::Blob),
            ("POST", "trees") => Some(WriteKind::Tree),
            ("POST", "commits") => Some(WriteKind::Commit),
            ("PATCH", _) => sub
                .strip_prefix("refs/heads/")
                .filter(|b| !b.is_empty())
                .map(|b| WriteKind::Ref(b.to_string())),
            _ => None,
        }
    }

    pub fn docs(&self) -> &'static str {
        match self {
            WriteKind::Blob => DOCS_BLOBS,
            WriteKind::Tree => DOCS_CREATE_TREE,
            WriteKind::Commit => DOCS_COMMITS,
            WriteKind::Ref(_) => DOCS_REFS,
        }
    }
}

pub(super) async fn write(
    ctx: &Ctx<'_>,
    kind: WriteKind,
    body: &[u8],
    record: &mut RequestRecord,
) -> Resp {
    let docs = kind.docs();
    // GitHub's Git Data API needs a first commit (made with the Contents API).
    if ctx.shared.lock().head.commit.is_empty() {
        return error(409, "Git Repository is empty.", docs);
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return error(400, "Problems parsing JSON", docs);
    };
    let result = match kind {
        WriteKind::Blob => create_blob(ctx.shared, &fields, record),
        WriteKind::Tree => create_tree(ctx.shared, &fields, record),
        WriteKind::Commit => create_commit(ctx.shared, &fields, record),
        WriteKind::Ref(branch) => {
            if !ctx.write_latency.is_zero() {
                tokio::time::sleep(ctx.write_latency).await;
            }
            update_ref(ctx.shared, &branch, &fields, record)
        }
    };
    result.unwrap_or_else(|resp| resp)
}

/// Checks that `required` fields are present and that the listed fields have the right JSON
/// type (`"string"`, `"boolean"`, `"array"`, `"object"`), in GitHub's words.
fn check_fields(
    fields: &Map<String, Value>,
    required: &[&str],
    types: &[(&str, &str)],
    docs: &str,
) -> Result<(), Resp> {
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| !fields.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(missing_fields(&missing, docs));
    }
    for (key, kind) in types {
        let Some(v) = fields.get(*key) else { continue };
        let ok = match *kind {
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        };
        if !ok {
            return Err(invalid(
                &format!(
                    "For 'properties/{key}', {} is not {}.",
                    type_name(v),
                    article(kind)
                ),
                docs,
            ));
        }
    }
    Ok(())
}

fn article(kind: &str) -> String {
    if kind.starts_with(['a', 'o']) {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn blob_bytes(content: &str, encoding: &str, shared: &Shared, docs: &str) -> Result<Bytes, Resp> {
    let bytes = match encoding.to_ascii_lowercase().as_str() {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => {
            decode_content(content).ok_or_else(|| invalid("content is not valid Base64.", docs))?
        }
        other => {
            return Err(invalid(
                &format!(
                    "For 'properties/encoding', \"{other}\" is not one of [\"utf-8\", \"base64\"]."
                ),
                docs,
            ));
        }
    };
    if bytes.len() as u64 > shared.config.max_file_size {
        return Err(error(
            422,
            &format!(
                "content is {} bytes; this exceeds GitHub's file size limit of {:.2} MB",
                bytes.len(),
                shared.config.max_file_size as f64 / (1024.0 * 1024.0)
            ),
            docs,
        ));
    }
    Ok(Bytes::from(bytes))
}

fn create_blob(
    shared: &Shared,
    fields: &Map<String, Value>,
    record: &mut RequestRecord,
) -> Result<Resp, Resp> {
    check_fields(
        fields,
        &["content"],
        &[("content", "string"), ("encoding", "string")],
        DOCS_BLOBS,
    )?;
    let content = fields.get("content").and_then(Value::as_str).unwrap_or("");
    let encoding = fields
        .get("encoding")
        .and_then(Value::as_str)
        .unwrap_or("utf-8");
    let blob = Arc::new(Blob::new(blob_bytes(
        content, encoding, shared, DOCS_BLOBS,
    )?));
    let sha = blob.sha.clone();
    shared.lock().blobs.entry(sha.clone()).or_insert(blob);
    record.created = Some(sha.clone());
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    Ok(json_resp(
        201,
        &json!({"sha": sha, "url": urls.git(&sha, false)}),
    ))
}

/// Sets `path` to `blob` in `files`, replacing a folder or a file in the way, as git does.
fn put_file(files: &mut BTreeMap<String, Arc<Blob>>, path: &str, blob: Arc<Blob>) {
    let dir_prefix = format!("{path}/");
    files.retain(|p, _| !p.starts_with(&dir_prefix) && !path.starts_with(&format!("{p}/")));
    files.insert(path.to_string(), blob);
}

fn create_tree(
    shared: &Shared,
    fields: &Map<String, Value>,
    record: &mut RequestRecord,
) -> Result<Resp, Resp> {
    let docs = DOCS_CREATE_TREE;
    check_fields(
        fields,
        &["tree"],
        &[("tree", "array"), ("base_tree", "string")],
        docs,
    )?;
    let mut state = shared.lock();
    let mut files = match fields.get("base_tree").and_then(Value::as_str) {
        Some(base) => {
            git::flatten(base, &state.trees, &state.blobs)
                .ok_or_else(|| error(422, "base_tree is not a valid tree oid", docs))?
                .0
        }
        None => BTreeMap::new(),
    };
    let entries = fields
        .get("tree")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, entry) in entries.iter().enumerate() {
        let Some(e) = entry.as_object() else {
            return Err(invalid(
                &format!("For 'items', {} is not an object.", type_name(entry)),
                docs,
            ));
        };
        let text = |k: &str| e.get(k).and_then(Value::as_str);
        let Some(path) = text("path").map(|p| p.trim_matches('/').to_string()) else {
            return Err(invalid(
                &format!("tree.{i}.path is missing or not a string."),
                docs,
            ));
        };
        if !valid_write_path(&path) {
            return Err(error(
                422,
                &format!("tree.path {path} contains a malformed path component"),
                docs,
            ));
        }
        let mode = text("mode").unwrap_or("100644");
        let kind = text("type").unwrap_or(if mode == "040000" { "tree" } else { "blob" });
        match (mode, kind) {
            ("100644", "blob") | ("040000", "tree") => {}
            _ => {
                return Err(error(
                    422,
                    &format!(
                        "tree.mode {mode} with tree.type {kind} is not supported by the emulator \
                         (only 100644 blobs and 040000 trees)"
                    ),
                    docs,
                ));
            }
        }
        match (e.get("sha"), text("content")) {
            (Some(Value::Null), _) => {
                // Deletes the path (a file or a whole folder).
                let dir_prefix = format!("{path}/");
                files.retain(|p, _| p != &path && !p.starts_with(&dir_prefix));
            }
            (Some(Value::String(sha)), _) if kind == "blob" => {
                let blob = state.blobs.get(sha).cloned().ok_or_else(|| {
                    error(422, &format!("tree.sha {sha} is not a valid blob"), docs)
                })?;
                put_file(&mut files, &path, blob);
            }
            (Some(Value::String(sha)), _) => {
                let (sub, _) = git::flatten(sha, &state.trees, &state.blobs).ok_or_else(|| {
                    error(422, &format!("tree.sha {sha} is not a valid tree"), docs)
                })?;
                let dir_prefix = format!("{path}/");
                files.retain(|p, _| p != &path && !p.starts_with(&dir_prefix));
                for (p, blob) in sub {
                    put_file(&mut files, &format!("{path}/{p}"), blob);
                }
            }
            (None, Some(content)) if kind == "blob" => {
                let blob = Arc::new(Blob::new(Bytes::copy_from_slice(content.as_bytes())));
                state
                    .blobs
                    .entry(blob.sha.clone())
                    .or_insert_with(|| blob.clone());
                put_file(&mut files, &path, blob);
            }
            (Some(other), _) => {
                return Err(invalid(
                    &format!(
                        "For 'properties/sha', {} is not a string or null.",
                        type_name(other)
                    ),
                    docs,
                ));
            }
            _ => {
                return Err(error(
                    422,
                    "Must supply either tree.sha or tree.content. Request will be rejected if both are present.",
                    docs,
                ));
            }
        }
    }
    let dirs = git::build_trees(&files);
    for t in dirs.values() {
        state
            .trees
            .entry(t.sha.clone())
            .or_insert_with(|| t.clone());
    }
    let root = dirs[""].clone();
    let trees = state.trees.clone();
    drop(state);
    record.created = Some(root.sha.clone());
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    let mut walk = TreeWalk {
        trees: &trees,
        urls: &urls,
        recursive: false,
        cap: usize::MAX,
        out: Vec::new(),
        truncated: false,
    };
    walk.walk(&root, "");
    Ok(json_resp(
        201,
        &json!({
            "sha": root.sha,
            "url": urls.git(&root.sha, true),
            "tree": walk.out,
            "truncated": false,
        }),
    ))
}

/// `{name, email, date?}` of a commit; `None` when absent.
fn signature(
    fields: &Map<String, Value>,
    key: &str,
    docs: &str,
) -> Result<Option<Signature>, Resp> {
    let Some(v) = fields.get(key) else {
        return Ok(None);
    };
    let Some(obj) = v.as_object() else {
        return Err(invalid(
            &format!("For 'properties/{key}', {} is not an object.", type_name(v)),
            docs,
        ));
    };
    let get = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(name), Some(email)) = (get("name"), get("email")) else {
        let missing = if get("name").is_none() {
            "name"
        } else {
            "email"
        };
        return Err(missing_fields(&[missing], docs));
    };
    let (secs, tz_minutes) = match obj.get("date") {
        None => (now_secs(), 0),
        Some(Value::String(date)) => git::parse_datetime(date).ok_or_else(|| {
            invalid(
                &format!("For 'properties/date', \"{date}\" is not a valid date-time."),
                docs,
            )
        })?,
        Some(other) => {
            return Err(invalid(
                &format!(
                    "For 'properties/date', {} is not a string.",
                    type_name(other)
                ),
                docs,
            ));
        }
    };
    Ok(Some(Signature {
        name,
        email,
        secs,
        tz_minutes,
    }))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn create_commit(
    shared: &Shared,
    fields: &Map<String, Value>,
    record: &mut RequestRecord,
) -> Result<Resp, Resp> {
    let docs = DOCS_COMMITS;
    check_fields(
        fields,
        &["message", "tree"],
        &[
            ("message", "string"),
            ("tree", "string"),
            ("parents", "array"),
            ("author", "object"),
            ("committer", "object"),
        ],
        docs,
    )?;
    let message = fields.get("message").and_then(Value::as_str).unwrap_or("");
    let tree = fields.get("tree").and_then(Value::as_str).unwrap_or("");
    let mut parents = Vec::new();
    for p in fields
        .get("parents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(p) = p.as_str() else {
            return Err(invalid(
                &format!("For 'items', {} is not a string.", type_name(p)),
                docs,
            ));
        };
        parents.push(p.to_string());
    }
    let author = signature(fields, "author", docs)?;
    let committer = signature(fields, "committer", docs)?;
    let token_user = || Signature {
        name: Person::emulator().name,
        email: Person::emulator().email,
        secs: now_secs(),
        tz_minutes: 0,
    };
    let author = author.unwrap_or_else(token_user);
    let committer = committer.unwrap_or_else(|| author.clone());

    let mut state = shared.lock();
    let Some((files, dirs)) = git::flatten(tree, &state.trees, &state.blobs) else {
        return Err(error(422, "Tree SHA does not exist", docs));
    };
    if let Some(bad) = parents.iter().find(|p| !state.objects.contains_key(*p)) {
        let _ = bad;
        return Err(error(
            422,
            "Parent SHA does not exist or is not a commit object",
            docs,
        ));
    }
    let object = CommitObject::new(tree, parents, message, author, committer);
    let sha = object.sha.clone();
    let object = Arc::new(object);
    state.objects.insert(sha.clone(), object.clone());
    state.snapshots.entry(sha.clone()).or_insert_with(|| {
        Arc::new(crate::git::Snapshot {
            commit: sha.clone(),
            files,
            dirs,
        })
    });
    drop(state);
    record.created = Some(sha.clone());
    Ok(json_resp(201, &commit_json(shared, &object)))
}

/// A commit object as the Git Commits API shows it.
fn commit_json(shared: &Shared, c: &CommitObject) -> Value {
    let urls = Urls {
        shared,
        git_ref: &shared.config.branch,
    };
    let person =
        |s: &Signature| json!({"name": s.name, "email": s.email, "date": rfc3339_secs(s.secs)});
    let parents: Vec<Value> = c
        .parents
        .iter()
        .map(|p| json!({"sha": p, "url": urls.commit(p), "html_url": urls.html_commit(p)}))
        .collect();
    json!({
        "sha": c.sha,
        "node_id": "MDY6Q29tbWl0MQ==",
        "url": urls.commit(&c.sha),
        "html_url": urls.html_commit(&c.sha),
        "author": person(&c.author),
        "committer": person(&c.committer),
        "tree": {"sha": c.tree, "url": urls.git(&c.tree, true)},
        "message": c.message,
        "parents": parents,
        "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null},
    })
}

fn rfc3339_secs(secs: i64) -> String {
    let t = if secs >= 0 {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH
    };
    rfc3339(t)
}

/// `GET /git/commits/{sha}`: exact (by sha), never stale.
pub(super) fn get_commit(shared: &Shared, sha: &str) -> Resp {
    let object = shared
        .lock()
        .objects
        .get(sha.trim_end_matches('/'))
        .cloned();
    match object {
        Some(c) => json_resp(200, &commit_json(shared, &c)),
        None => error(404, "Not Found", DOCS_GET_COMMIT),
    }
}

/// Whether `descendant` has `ancestor` in its history (or is it).
fn is_descendant(state: &crate::State, descendant: &str, ancestor: &str) -> bool {
    let mut stack = vec![descendant.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(sha) = stack.pop() {
        if sha == ancestor {
            return true;
        }
        if !seen.insert(sha.clone()) {
            continue;
        }
        if let Some(c) = state.objects.get(&sha) {
            stack.extend(c.parents.iter().cloned());
        }
    }
    false
}

fn update_ref(
    shared: &Shared,
    branch: &str,
    fields: &Map<String, Value>,
    record: &mut RequestRecord,
) -> Result<Resp, Resp> {
    let docs = DOCS_REFS;
    check_fields(
        fields,
        &["sha"],
        &[("sha", "string"), ("force", "boolean")],
        docs,
    )?;
    let sha = fields.get("sha").and_then(Value::as_str).unwrap_or("");
    let force = fields
        .get("force")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if branch != shared.config.branch {
        return Err(error(422, "Reference does not exist", docs));
    }
    let mut state = shared.lock();
    let (Some(target), Some(object)) = (
        state.snapshots.get(sha).cloned().filter(|_| is_sha(sha)),
        state.objects.get(sha).cloned(),
    ) else {
        return Err(error(422, "Object does not exist", docs));
    };
    if let Some(reason) = state.protection.as_ref().and_then(|p| p.reason()) {
        return Err(error(
            422,
            &format!("Protected branch update failed for refs/heads/{branch}.\n\n{reason}"),
            docs,
        ));
    }
    let old = state.head.clone();
    if !force && !is_descendant(&state, sha, &old.commit) {
        return Err(error(422, "Update is not a fast forward", docs));
    }
    if old.commit != sha {
        let mut paths: Vec<String> = old
            .files
            .iter()
            .filter(|(p, b)| target.files.get(*p).is_none_or(|t| t.sha != b.sha))
            .map(|(p, _)| p.clone())
            .collect();
        paths.extend(
            target
                .files
                .keys()
                .filter(|p| !old.files.contains_key(*p))
                .cloned(),
        );
        paths.sort();
        let person = |s: &Signature| Person {
            name: s.name.clone(),
            email: s.email.clone(),
        };
        state.set_head(target);
        state.commits.push(Commit {
            sha: sha.to_string(),
            parent: object.parents.first().cloned(),
            tree: object.tree.clone(),
            message: object.message.clone(),
            kind: CommitKind::GitData,
            paths,
            author: person(&object.author),
            committer: person(&object.committer),
        });
        record.commit = Some(sha.to_string());
    }
    drop(state);
    Ok(ref_answer(shared, 200, branch, sha))
}
