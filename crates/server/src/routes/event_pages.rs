//! Paging through `/events/filter`: the opaque token of `next_page` links
//! (`/api/events/filter/next?page-token=…`).
//!
//! A token carries the request's filter (as its wire type, read again on each page, so a token
//! edited by hand is checked like any body and only ever becomes bound parameters), the page
//! size, the first page's total, the anchor (events received up to the first page; later ones
//! do not shift the pages) and the last event's position (keyset paging). It is base64url
//! JSON: opaque to clients, not a secret, since it grants nothing its filter could not.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowgate_core::Micros;
use flowgate_store::model::EventPosition;
use flowgate_wire::filters::EventFilter as FilterWire;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ApiError;

/// How long a token is good for after the page that issued it.
const LIFETIME_SECONDS: f64 = 3600.0;

/// What a `next_page` link carries from one page to the next.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PageToken {
    /// The first request's filter.
    pub filter: Option<FilterWire>,
    /// Events per page.
    pub limit: i64,
    /// The first page's total.
    pub total: i64,
    /// Only events received at or before this instant (the first page's time).
    pub received_until: Micros,
    /// The previous page's last event: `occurred`.
    pub after_occurred: Micros,
    /// The previous page's last event: id.
    pub after_id: Uuid,
    /// When this token was issued.
    pub issued: Micros,
}

impl PageToken {
    /// Where the next page starts.
    pub fn after(&self) -> EventPosition {
        EventPosition {
            occurred: self.after_occurred,
            id: self.after_id,
        }
    }

    /// The token's text for a URL.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a page token serialises");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a token from its text, refusing one that is malformed or older than its lifetime.
    pub fn decode(text: &str, now: Micros) -> Result<PageToken, ApiError> {
        let bad = |why: &str| {
            ApiError::Invalid(format!(
                "page-token: {why}; start again with POST /api/events/filter and follow its \
                 next_page"
            ))
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| bad("not a page token this server issued"))?;
        let token: PageToken = serde_json::from_slice(&bytes)
            .map_err(|_| bad("not a page token this server issued"))?;
        if now.seconds_since(token.issued) > LIFETIME_SECONDS {
            return Err(bad("the token has expired (tokens last an hour)"));
        }
        Ok(token)
    }
}

/// The absolute `next_page` URL for `token`, on the host the request was sent to (Prefect's
/// client reads `next_page` as an absolute URL and GETs it as it is).
pub fn next_page_url(headers: &HeaderMap, token: &PageToken) -> String {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    format!(
        "{scheme}://{host}/api/events/filter/next?page-token={}",
        token.encode()
    )
}
