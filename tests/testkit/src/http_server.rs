//! A tiny static file server on 127.0.0.1 that serves a folder the way GitHub Pages does, so
//! tests can point real clients (pip, uv) at a published index.
//!
//! - `GET` and `HEAD`; `/dir/` serves `dir/index.html`; `/dir` (a folder, no slash) answers
//!   `301` to `/dir/`; missing files answer `404`.
//! - Paths are percent-decoded (`%21` → `!`, `%2B` → `+`); `.`/`..` segments, NUL and
//!   backslashes are refused with `400`, and nothing outside the root is ever served.
//! - Every response has a `Content-Length`; HTTP/1.1 keep-alive is honoured, and
//!   `Connection: close` (or HTTP/1.0 without keep-alive) closes after the response.
//! - Every request is recorded ([`StaticServer::requests`]) so a test can assert that pip fetched
//!   `X.whl.metadata` and never `X.whl`.
//! - [`StaticServer::set_root`] swaps the served folder and [`StaticServer::serve_after`] hides
//!   a path (404) until a moment has passed, to imitate a Pages deployment that is not live yet.
//!
//! Only the standard library is used: a thread accepts connections and each connection gets a
//! thread. Dropping the server stops every thread and closes the port.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often an idle connection thread wakes up to check whether the server is stopping.
const POLL: Duration = Duration::from_millis(100);
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Request heads larger than this are refused (431).
const MAX_HEAD: usize = 64 * 1024;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent, e.g. `/dace/dace-43%212026.2.3-py3-none-any.whl?x=1`.
    pub target: String,
    /// The percent-decoded path without query, e.g. `/dace/dace-43!2026.2.3-py3-none-any.whl`
    /// (empty when the target could not be decoded).
    pub path: String,
    /// The status code answered.
    pub status: u16,
}

/// A static file server for tests; see the module documentation.
pub struct StaticServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    root: RwLock<PathBuf>,
    log: Mutex<Vec<RequestRecord>>,
    /// Decoded path → the moment from which it is served (404 before).
    hidden_until: Mutex<HashMap<String, Instant>>,
    stopping: AtomicBool,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

impl StaticServer {
    /// Serves `root` on `127.0.0.1` at a free port.
    pub fn serve(root: impl Into<PathBuf>) -> io::Result<StaticServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            root: RwLock::new(root.into()),
            log: Mutex::new(Vec::new()),
            hidden_until: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("static-server-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))?
        };
        Ok(StaticServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The socket address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The index URL with a trailing slash: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The folder being served.
    pub fn root(&self) -> PathBuf {
        self.shared
            .root
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Serves `root` from now on (requests already being answered finish with the old one).
    pub fn set_root(&self, root: impl Into<PathBuf>) {
        *self
            .shared
            .root
            .write()
            .unwrap_or_else(PoisonError::into_inner) = root.into();
    }

    /// Answers `404` for `path` (decoded, from the root: `/dace/index.html`; a folder path
    /// `/dace/` covers only the page itself) until `delay` has passed from now.
    pub fn serve_after(&self, path: &str, delay: Duration) {
        self.shared
            .hidden_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(normalize_key(path), Instant::now() + delay);
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The decoded paths of every request so far, in order.
    pub fn requested_paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }

    /// Whether any request (any method, any status) asked for the decoded `path`.
    pub fn was_requested(&self, path: &str) -> bool {
        self.requests().iter().any(|r| r.path == path)
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(
            &mut *self
                .shared
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for connection in connections {
            let _ = connection.join();
        }
    }
}

impl std::fmt::Debug for StaticServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticServer")
            .field("addr", &self.addr)
            .field("root", &self.root())
            .finish_non_exhaustive()
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("static-server-conn".into())
            .spawn(move || {
                let _ = serve_connection(stream, &conn_shared);
            });
        if let Ok(handle) = spawned {
            let mut connections = shared
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            connections.retain(|h| !h.is_finished());
            connections.push(handle);
        }
    }
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    keep_alive: bool,
    content_length: u64,
}

enum ReadHead {
    Head(Head),
    /// The peer closed the connection, the server is stopping or the connection idled out.
    Closed,
    /// Garbage: answer this status and close.
    Bad(u16),
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(POLL))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let head = match read_head(&mut reader, shared) {
            ReadHead::Head(head) => head,
            ReadHead::Closed => break,
            ReadHead::Bad(status) => {
                let response = Response::error(status);
                response.write(&mut writer, false, false)?;
                break;
            }
        };
        // Requests we answer carry no body, but drain one if sent so the next head parses.
        if head.content_length > 0 {
            io::copy(
                &mut (&mut reader).take(head.content_length),
                &mut io::sink(),
            )?;
        }
        let (path, response) = respond(&head, shared);
        shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(RequestRecord {
                method: head.method.clone(),
                target: head.target.clone(),
                path,
                status: response.status,
            });
        let keep_alive = head.keep_alive && !shared.stopping.load(Ordering::SeqCst);
        response.write(&mut writer, head.method == "HEAD", keep_alive)?;
        if !keep_alive {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
    Ok(())
}

/// Reads one request head, polling so that a stopping server or an idle peer ends the wait.
fn read_head(reader: &mut BufReader<TcpStream>, shared: &Shared) -> ReadHead {
    let mut raw = Vec::new();
    let idle_since = Instant::now();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return ReadHead::Closed;
        }
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return ReadHead::Closed,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // read_until keeps what it read before the timeout in `line`.
                raw.extend_from_slice(&line);
                if raw.is_empty() && idle_since.elapsed() > IDLE_TIMEOUT {
                    return ReadHead::Closed;
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return ReadHead::Closed,
        }
        raw.extend_from_slice(&line);
        if raw.len() > MAX_HEAD {
            return ReadHead::Bad(431);
        }
        // Tolerate empty lines before the request line (RFC 9112 §2.2).
        if raw == b"\r\n" || raw == b"\n" {
            raw.clear();
            continue;
        }
        if raw.ends_with(b"\r\n\r\n") || raw.ends_with(b"\n\n") {
            return parse_head(&raw);
        }
    }
}

fn parse_head(raw: &[u8]) -> ReadHead {
    let Ok(text) = std::str::from_utf8(raw) else {
        return ReadHead::Bad(400);
    };
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return ReadHead::Bad(400);
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return ReadHead::Bad(505),
    };
    let mut keep_alive = http11;
    let mut content_length = 0;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            match value.parse() {
                Ok(n) => content_length = n,
                Err(_) => return ReadHead::Bad(400),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked request bodies are not something a package client sends.
            return ReadHead::Bad(501);
        }
    }
    ReadHead::Head(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        keep_alive,
        content_length,
    })
}

/// What to send back.
struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    Bytes(Vec<u8>),
    File(File, u64),
}

impl Response {
    fn error(status: u16) -> Response {
        let reason = reason(status);
        let html = format!(
            "<!DOCTYPE html>\n<title>{status} {reason}</title>\n<h1>{status} {reason}</h1>\n"
        );
        Response {
            status,
            headers: vec![("Content-Type", "text/html; charset=utf-8".to_owned())],
            body: Body::Bytes(html.into_bytes()),
        }
    }

    fn write(self, out: &mut TcpStream, head_only: bool, keep_alive: bool) -> io::Result<()> {
        let length = match &self.body {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(_, len) => *len,
        };
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {length}\r\n"));
        head.push_str("Server: gt4py-testkit\r\n");
        head.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let mut out = io::BufWriter::new(out);
        out.write_all(head.as_bytes())?;
        if !head_only {
            match self.body {
                Body::Bytes(bytes) => out.write_all(&bytes)?,
                Body::File(file, len) => {
                    let copied = io::copy(&mut file.take(len), &mut out)?;
                    if copied != len {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while being served",
                        ));
                    }
                }
            }
        }
        out.flush()
    }
}

/// Decides the response for a request; also returns the decoded path for the log.
fn respond(head: &Head, shared: &Shared) -> (String, Response) {
    // Absolute-form targets (`http://host/path`) are allowed by HTTP/1.1.
    let mut target = head.target.as_str();
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        target = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let (raw_path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let raw_path = raw_path.split('#').next().unwrap_or_default();
    let Some(path) = percent_decode(raw_path) else {
        return (String::new(), Response::error(400));
    };
    if !matches!(head.method.as_str(), "GET" | "HEAD") {
        let mut response = Response::error(405);
        response.headers.push(("Allow", "GET, HEAD".to_owned()));
        return (path, response);
    }
    if !path.starts_with('/') {
        return (path, Response::error(400));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let trailing_slash = path.ends_with('/');
    let refused = segments
        .iter()
        .any(|s| *s == ".." || *s == "." || s.contains('\\') || s.contains('\0'))
        || segments[..segments.len() - 1].iter().any(|s| s.is_empty());
    if refused {
        return (path, Response::error(400));
    }
    if hidden(shared, &path) {
        return (path, Response::error(404));
    }
    let root = shared
        .root
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut file_path = root.clone();
    for segment in segments.iter().filter(|s| !s.is_empty()) {
        file_path.push(segment);
    }
    let response = match std::fs::metadata(&file_path) {
        Ok(meta) if meta.is_dir() && !trailing_slash => {
            let mut location = format!("{raw_path}/");
            if let Some(query) = query {
                location.push('?');
                location.push_str(query);
            }
            let mut response = Response::error(301);
            response.headers.push(("Location", location));
            response
        }
        Ok(meta) if meta.is_dir() => serve_file(&root, &file_path.join("index.html")),
        Ok(_) if trailing_slash => Response::error(404),
        Ok(_) => serve_file(&root, &file_path),
        Err(_) => Response::error(404),
    };
    (path, response)
}

fn serve_file(root: &Path, path: &Path) -> Response {
    // Symlinks may not lead outside the served folder.
    let inside = match (root.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(path)) => path.starts_with(root),
        _ => false,
    };
    if !inside {
        return Response::error(404);
    }
    let Ok(file) = File::open(path) else {
        return Response::error(404);
    };
    let Ok(meta) = file.metadata() else {
        return Response::error(404);
    };
    if !meta.is_file() {
        return Response::error(404);
    }
    Response {
        status: 200,
        headers: vec![("Content-Type", content_type(path).to_owned())],
        body: Body::File(file, meta.len()),
    }
}

fn hidden(shared: &Shared, path: &str) -> bool {
    let mut hidden = shared
        .hidden_until
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let key = normalize_key(path);
    match hidden.get(&key) {
        Some(until) if Instant::now() < *until => true,
        Some(_) => {
            hidden.remove(&key);
            false
        }
        None => false,
    }
}

/// `/dace/` and `/dace/index.html` name the same thing; so do `dace/x` and `/dace/x`.
fn normalize_key(path: &str) -> String {
    let mut key = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    if key.ends_with('/') {
        key.push_str("index.html");
    }
    key
}

fn content_type(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let extension = name.rsplit('.').next().unwrap_or_default();
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "txt" | "metadata" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "application/javascript; charset=utf-8",
        "whl" | "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or a result that is not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends raw requests on one connection and returns everything read until the peer closes.
    fn exchange(server: &StaticServer, raw: &str) -> String {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    }

    fn fixture() -> (tempfile_dir::Dir, StaticServer) {
        let dir = tempfile_dir::Dir::new();
        std::fs::create_dir_all(dir.path().join("dace")).unwrap();
        std::fs::write(dir.path().join("index.html"), "root page").unwrap();
        std::fs::write(dir.path().join("dace/index.html"), "dace page").unwrap();
        std::fs::write(
            dir.path().join("dace/dace-43!1.0+cu118-py3-none-any.whl"),
            "wheel",
        )
        .unwrap();
        let server = StaticServer::serve(dir.path()).unwrap();
        (dir, server)
    }

    /// A throwaway folder without pulling tempfile into the testkit's dependencies.
    mod tempfile_dir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicU32, Ordering};

        pub struct Dir(PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "testkit-http-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn serves_pages_files_redirects_and_404s() {
        let (_dir, server) = fixture();
        let out = exchange(
            &server,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(
            out.contains("Content-Type: text/html; charset=utf-8\r\n"),
            "{out}"
        );
        assert!(out.contains("Content-Length: 9\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nroot page"), "{out}");

        let out = exchange(
            &server,
            "GET /dace?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 301 "), "{out}");
        assert!(out.contains("Location: /dace/?x=1\r\n"), "{out}");

        let out = exchange(
            &server,
            "GET /dace/dace-43%212026.2.3.whl HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 404 "), "{out}");

        let out = exchange(
            &server,
            "HEAD /dace/dace-43%211.0%2Bcu118-py3-none-any.whl HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        assert!(out.contains("Content-Length: 5\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "HEAD has no body: {out}");

        for bad in [
            "/../etc/passwd",
            "/dace/%2E%2E/index.html",
            "/dace/..%2F..%2Fx",
        ] {
            let out = exchange(
                &server,
                &format!("GET {bad} HTTP/1.1\r\nConnection: close\r\n\r\n"),
            );
            assert!(out.starts_with("HTTP/1.1 400 "), "{bad}: {out}");
        }

        let paths = server.requested_paths();
        assert_eq!(paths[0], "/");
        assert_eq!(paths[1], "/dace");
        assert_eq!(paths[2], "/dace/dace-43!2026.2.3.whl");
        assert_eq!(paths[3], "/dace/dace-43!1.0+cu118-py3-none-any.whl");
        assert_eq!(server.requests()[3].method, "HEAD");
        assert!(server.was_requested("/dace/dace-43!1.0+cu118-py3-none-any.whl"));
    }

    #[test]
    fn keep_alive_serves_several_requests_on_one_connection() {
        let (_dir, server) = fixture();
        let out = exchange(
            &server,
            "GET /dace/ HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
        assert!(
            out.contains("Connection: keep-alive\r\n\r\ndace page"),
            "{out}"
        );
        assert!(out.ends_with("Connection: close\r\n\r\nroot page"), "{out}");

        // HTTP/1.0 closes by default.
        let out = exchange(&server, "GET / HTTP/1.0\r\n\r\n");
        assert!(out.ends_with("Connection: close\r\n\r\nroot page"), "{out}");
    }

    #[test]
    fn serve_after_and_set_root() {
        let (dir, server) = fixture();
        server.serve_after("/dace/", Duration::from_millis(300));
        let get = "GET /dace/ HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert!(exchange(&server, get).starts_with("HTTP/1.1 404 "));
        thread::sleep(Duration::from_millis(350));
        assert!(exchange(&server, get).ends_with("dace page"));

        let other = dir.path().join("other");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("index.html"), "other root").unwrap();
        server.set_root(&other);
        assert!(exchange(&server, "GET / HTTP/1.0\r\n\r\n").ends_with("other root"));
        assert_eq!(server.root(), other);
    }

    #[test]
    fn drop_stops_the_server() {
        let (_dir, server) = fixture();
        let addr = server.addr();
        // An idle keep-alive connection must not keep the server alive.
        let idle = TcpStream::connect(addr).unwrap();
        drop(server);
        drop(idle);
        assert!(TcpStream::connect(addr).is_err());
    }
}
