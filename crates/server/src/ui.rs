//! The web UI: the files under `crates/server/ui/` (plain ES modules and stylesheets, no Node
//! toolchain), compiled into the binary by `build.rs`. `/ui/<path>` serves a file; any other
//! page address a browser asks for (outside `/api`) gets the one HTML page, which routes itself
//! (`ui/pages.js` lists its pages).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app::AppState;

include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));

/// What the page may load and run: only this server's own scripts, styles and API. Scripts and
/// styles never come inline, so even markup that reached the DOM could not run script. Images
/// may come from anywhere on the web: an image artifact is a picture at the URL a run reported.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob: https: http:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The UI's file routes.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/ui/{*path}",
        get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
    )
}

/// Whether a request that matched no route is a browser opening a page of the UI (a `GET` of
/// HTML outside `/api`): it gets [`page`], and the page shows its own "no such page".
pub fn wants_page(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    (method == Method::GET || method == Method::HEAD)
        && html
        && path != "/api"
        && !path.starts_with("/api/")
        && !path.starts_with("/ui/")
}

/// The single HTML page.
pub fn page(headers: &HeaderMap) -> Response {
    serve("index.html", headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Ok(i) = UI_FILES.binary_search_by(|(p, _, _)| (*p).cmp(path)) else {
        return (StatusCode::NOT_FOUND, format!("no UI file {path:?}")).into_response();
    };
    let (_, bytes, etag) = UI_FILES[i];
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    // Revalidate every time: a new binary serves new files at once, an unchanged file costs a 304.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ui_file_has_a_known_type_and_the_page_exists() {
        assert!(UI_FILES.iter().any(|(p, _, _)| *p == "index.html"));
        for (path, _, _) in UI_FILES {
            assert_ne!(
                content_type(path),
                "application/octet-stream",
                "{path}: add its type to content_type"
            );
        }
        assert!(
            UI_FILES.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted, for the binary search"
        );
    }

    #[test]
    fn no_module_parses_strings_as_html() {
        let parsers = [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "DOMParser",
            "createContextualFragment",
            "srcdoc",
        ];
        for (path, bytes, _) in UI_FILES {
            // dom.js names them only to refuse them.
            if !path.ends_with(".js") || *path == "lib/dom.js" {
                continue;
            }
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            for parser in parsers {
                assert!(
                    !text.contains(parser),
                    "ui/{path} uses {parser}: build elements with h() from lib/dom.js instead"
                );
            }
        }
    }

    #[test]
    fn only_html_gets_outside_the_api_are_pages() {
        let mut html = HeaderMap::new();
        html.insert(header::ACCEPT, HeaderValue::from_static("text/html,*/*"));
        assert!(wants_page(&Method::GET, "/runs/flow-run/x", &html));
        assert!(wants_page(&Method::GET, "/", &html));
        assert!(!wants_page(&Method::GET, "/api/nope", &html));
        assert!(!wants_page(&Method::GET, "/ui/nope.js", &html));
        assert!(!wants_page(&Method::POST, "/runs", &html));
        assert!(!wants_page(&Method::GET, "/runs", &HeaderMap::new()));
    }
}
