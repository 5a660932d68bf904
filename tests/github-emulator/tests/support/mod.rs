//! A small blocking client for the emulator tests: the headers the tool sends, JSON in and out.

#![allow(dead_code)]

use base64::Engine;
use github_emulator::Emulator;
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A client builder that works whatever features reqwest is unified with in the workspace.
pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .user_agent("github-emulator-tests")
        // Redirects are checked by the tests themselves.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Api<'a> {
    pub emu: &'a Emulator,
    pub http: Client,
    pub token: Option<String>,
}

impl<'a> Api<'a> {
    pub fn new(emu: &'a Emulator) -> Api<'a> {
        Api {
            emu,
            http: client(),
            token: Some(emu.token()),
        }
    }

    pub fn with_token(mut self, token: Option<&str>) -> Api<'a> {
        self.token = token.map(str::to_string);
        self
    }

    /// A request to a full URL with the API's headers.
    pub fn at(&self, method: Method, url: &str) -> RequestBuilder {
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

    /// A request to `/repos/{o}/{r}/{rest}`.
    pub fn req(&self, method: Method, rest: &str) -> RequestBuilder {
        let url = format!(
            "{}/repos/{}/{}/{rest}",
            self.emu.api_url(),
            self.emu.owner(),
            self.emu.repo()
        );
        self.at(method, &url)
    }

    pub fn get(&self, rest: &str) -> (u16, Value) {
        status_json(self.req(Method::GET, rest).send().unwrap())
    }

    pub fn post(&self, rest: &str, body: &Value) -> (u16, Value) {
        status_json(self.req(Method::POST, rest).json(body).send().unwrap())
    }

    pub fn patch(&self, rest: &str, body: &Value) -> (u16, Value) {
        status_json(self.req(Method::PATCH, rest).json(body).send().unwrap())
    }

    pub fn put(&self, rest: &str, body: &Value) -> (u16, Value) {
        status_json(self.req(Method::PUT, rest).json(body).send().unwrap())
    }

    pub fn delete(&self, rest: &str, body: &Value) -> (u16, Value) {
        status_json(self.req(Method::DELETE, rest).json(body).send().unwrap())
    }

    /// A Contents API create of `path`.
    pub fn create(&self, path: &str, bytes: &[u8]) -> (u16, Value) {
        self.put(
            &format!("contents/{path}"),
            &serde_json::json!({"message": format!("add {path}"), "content": b64(bytes)}),
        )
    }
}

pub fn status_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json().unwrap_or(Value::Null);
    (status, body)
}

pub fn message(v: &Value) -> &str {
    v["message"].as_str().unwrap_or_default()
}
