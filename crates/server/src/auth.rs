//! Who may call the API: named API keys, checked on every request under `/api` (and
//! `/metrics`) and on every websocket, and the caller each request was authenticated as.
//!
//! With no key configured authentication is off (the server then listens only on loopback
//! unless told otherwise, see [`crate::ServerConfig`]). With keys, a request must carry one:
//! `Authorization: Bearer KEY` (what the `prefect` client sends for `PREFECT_API_KEY`, and
//! Flowgate's CLI and SDK for `FLOWGATE_API_KEY`) or HTTP basic credentials `NAME:KEY` (what
//! it sends for `PREFECT_API_AUTH_STRING`; the key decides who the caller is, the user part is
//! not checked). A websocket may instead prove itself in its first frame,
//! `{"type": "auth", "token": …}`, with the key or `NAME:KEY` (the `prefect` client's event
//! websockets send only `PREFECT_API_AUTH_STRING` there). Keys are compared in constant time
//! and never logged or echoed.

use std::fmt;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::error::ApiError;

/// The name of a key given without one (`--api-key KEY`).
pub const DEFAULT_KEY_NAME: &str = "api-key";
/// The shortest key accepted: a short key is guessed.
pub const MIN_KEY_LEN: usize = 16;

/// The keys the server accepts, each with the name its callers are recorded under.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Arc<[NamedKey]>,
}

struct NamedKey {
    name: Arc<str>,
    key: String,
}

/// Keys are secrets: only their names are shown.
impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| &k.name))
            .finish()
    }
}

impl ApiKeys {
    /// Reads keys given as `NAME=KEY` or `KEY` (named [`DEFAULT_KEY_NAME`]). A name is letters,
    /// digits and `_ . @ -`; a key containing `=` must be given with a name. Errors name the
    /// key's position and name, never the key.
    pub fn parse<'a>(specs: impl IntoIterator<Item = &'a str>) -> Result<ApiKeys, String> {
        let mut keys: Vec<NamedKey> = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            let spec = spec.trim();
            let (name, key) = match spec.split_once('=') {
                Some((name, key)) if is_name(name) => (name, key),
                _ => (DEFAULT_KEY_NAME, spec),
            };
            let which = format!("API key {} (named {name:?})", i + 1);
            if key.chars().count() < MIN_KEY_LEN {
                return Err(format!(
                    "{which} is too short: use at least {MIN_KEY_LEN} characters, e.g. the \
                     output of `openssl rand -hex 24`"
                ));
            }
            if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("{which} contains spaces or control characters"));
            }
            if keys.iter().any(|k| &*k.name == name) {
                return Err(format!(
                    "{which}: the name is given twice; give each key its own name (NAME=KEY)"
                ));
            }
            if keys.iter().any(|k| k.key == key) {
                return Err(format!("{which} is the same key as another one"));
            }
            keys.push(NamedKey {
                name: name.into(),
                key: key.to_owned(),
            });
        }
        Ok(ApiKeys { keys: keys.into() })
    }

    /// Whether no key is configured (authentication is off).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys' names, for the start-up message.
    pub fn names(&self) -> Vec<&str> {
        self.keys.iter().map(|k| &*k.name).collect()
    }

    /// The name of `key`, if it is one of ours. Every key is compared, in constant time.
    fn name_of(&self, key: &str) -> Option<Arc<str>> {
        let mut found = None;
        for k in self.keys.iter() {
            if constant_time_eq(k.key.as_bytes(), key.as_bytes()) {
                found = Some(k.name.clone());
            }
        }
        found
    }

    /// Who an `Authorization` header value proves to be: `Bearer KEY` or `Basic
    /// base64(NAME:KEY)`.
    pub fn identify_header(&self, value: &str) -> Option<Arc<str>> {
        let (scheme, credentials) = value.trim().split_once(' ')?;
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            self.name_of(credentials)
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(credentials)
                .ok()?;
            let (_user, key) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
            self.name_of(key)
        } else {
            None
        }
    }

    /// Who a websocket's auth token proves to be: the key, or `NAME:KEY`.
    pub fn identify_token(&self, token: &str) -> Option<Arc<str>> {
        self.name_of(token)
            .or_else(|| self.name_of(token.split_once(':')?.1))
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a request was authenticated as; every request under `/api` carries one (as a request
/// extension).
#[derive(Clone, Debug)]
pub enum Caller {
    /// Authentication is off: anyone, unnamed.
    Anyone,
    /// The caller proved to hold the key of this name.
    Key(Arc<str>),
    /// A websocket handshake without credentials: it must prove itself in its auth frame.
    Unproven,
}

impl Caller {
    /// The name of the caller's key, to record who did something.
    pub fn name(&self) -> Option<&str> {
        match self {
            Caller::Key(name) => Some(name),
            Caller::Anyone | Caller::Unproven => None,
        }
    }
}

/// What a request without valid credentials is told.
pub const MISSING: &str = "this server requires an API key: send `Authorization: Bearer KEY` \
    (Flowgate's CLI and SDK read FLOWGATE_API_KEY, the prefect client PREFECT_API_KEY) or basic \
    credentials NAME:KEY (PREFECT_API_AUTH_STRING)";
/// What a request with credentials that match no key is told.
pub const INVALID: &str = "the API key or credentials sent are not valid for this server";

/// The middleware: finds who the request is from, or answers 401.
pub async fn authenticate(
    State(keys): State<ApiKeys>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match caller_of(&keys, request.headers()) {
        Ok(caller) => caller,
        Err(refusal) => return refusal.into_response(),
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn caller_of(keys: &ApiKeys, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if keys.is_empty() {
        return Ok(Caller::Anyone);
    }
    match headers.get(header::AUTHORIZATION) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| keys.identify_header(v))
            .map(Caller::Key)
            .ok_or_else(|| ApiError::Unauthorized(INVALID.to_owned())),
        None if is_websocket_upgrade(headers) => Ok(Caller::Unproven),
        None => Err(ApiError::Unauthorized(MISSING.to_owned())),
    }
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "alice-key-0123456789";
    const BOB: &str = "bob-key-0123456789ab";

    fn keys() -> ApiKeys {
        ApiKeys::parse([format!("alice={ALICE}").as_str(), BOB]).unwrap()
    }

    fn basic(credentials: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    #[test]
    fn a_bearer_key_or_basic_credentials_name_the_caller() {
        let keys = keys();
        assert_eq!(
            keys.identify_header(&format!("Bearer {ALICE}")).as_deref(),
            Some("alice")
        );
        assert_eq!(
            keys.identify_header(&format!("bearer  {BOB}")).as_deref(),
            Some(DEFAULT_KEY_NAME)
        );
        assert_eq!(
            keys.identify_header(&basic(&format!("anyone:{ALICE}")))
                .as_deref(),
            Some("alice")
        );
        assert_eq!(keys.identify_token(ALICE).as_deref(), Some("alice"));
        assert_eq!(
            keys.identify_token(&format!("alice:{ALICE}")).as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn anything_else_identifies_nobody() {
        let keys = keys();
        for header in [
            String::new(),
            "Bearer".to_owned(),
            format!("Bearer {ALICE}x"),
            format!("Token {ALICE}"),
            basic(ALICE),
            "Basic !!!".to_owned(),
            basic(&format!("alice:{}", &ALICE[1..])),
        ] {
            assert_eq!(keys.identify_header(&header), None, "{header:?}");
        }
        assert_eq!(keys.identify_token(""), None);
        assert_eq!(keys.identify_token("alice:"), None);
    }

    #[test]
    fn bad_key_lists_are_refused_without_showing_the_key() {
        for (specs, needle) in [
            (vec!["alice=short"], "too short"),
            (
                vec!["alice=0123456789abcdefg", "alice=0123456789abcdefh"],
                "twice",
            ),
            (
                vec!["a=0123456789abcdefg", "b=0123456789abcdefg"],
                "same key",
            ),
            (vec!["a=0123456789 abcdefg"], "spaces"),
        ] {
            let err = ApiKeys::parse(specs.iter().copied()).unwrap_err();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains("0123456789"), "the error shows a key: {err}");
        }
    }

    #[test]
    fn keys_are_debugged_by_name_only() {
        let shown = format!("{:?}", keys());
        assert_eq!(shown, format!("[\"alice\", \"{DEFAULT_KEY_NAME}\"]"));
    }

    #[test]
    fn no_keys_lets_anyone_in_and_keys_require_one() {
        let mut headers = HeaderMap::new();
        assert!(matches!(
            caller_of(&ApiKeys::default(), &headers),
            Ok(Caller::Anyone)
        ));
        let keys = keys();
        assert!(matches!(
            caller_of(&keys, &headers),
            Err(ApiError::Unauthorized(_))
        ));
        headers.insert(header::UPGRADE, "websocket".parse().unwrap());
        assert!(matches!(caller_of(&keys, &headers), Ok(Caller::Unproven)));
        headers.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert!(matches!(
            caller_of(&keys, &headers),
            Err(ApiError::Unauthorized(_))
        ));
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {ALICE}").parse().unwrap(),
        );
        assert_eq!(caller_of(&keys, &headers).unwrap().name(), Some("alice"));
    }
}
