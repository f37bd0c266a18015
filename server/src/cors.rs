//! Cross-origin requests: which browser pages may call the API.
//!
//! The policy is fixed and small, so it is written out here instead of
//! configured into a generic middleware: tower-http's `CorsLayer` cost about
//! a fifth of the server's CPU time per request in `bench/server.sh`, where
//! these few header inserts cost next to nothing.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::CorsOrigins;

const ANY: HeaderValue = HeaderValue::from_static("*");
const ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET, HEAD, PUT, DELETE");
const ALLOW_HEADERS: HeaderValue =
    HeaderValue::from_static("authorization, content-type, if-match, if-none-match");
const EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("etag");
/// Browsers may cache a preflight answer for a day.
const MAX_AGE: HeaderValue = HeaderValue::from_static("86400");
const ORIGIN: HeaderValue = HeaderValue::from_static("origin");

/// The answer to `request` if it is a CORS preflight (`OPTIONS` with `Origin`
/// and `Access-Control-Request-Method`), or `None` for any other request.
///
/// An origin that is not allowed gets the same empty answer without the
/// `Access-Control-Allow-*` headers, which makes the browser refuse the
/// actual request.
pub fn preflight(origins: &CorsOrigins, request: &Request) -> Option<Response> {
    let headers = request.headers();
    if request.method() != Method::OPTIONS
        || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;

    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    if allow_origin(origins, Some(origin), out) {
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS);
        out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
        out.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
    }
    Some(response)
}

/// Adds the CORS headers of an actual (non-preflight) response.
pub fn add_headers(origins: &CorsOrigins, origin: Option<&HeaderValue>, out: &mut HeaderMap) {
    if allow_origin(origins, origin, out) {
        out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE_HEADERS);
    }
}

/// Sets `Access-Control-Allow-Origin` when `origin` may call the API, and
/// says whether it did.
fn allow_origin(origins: &CorsOrigins, origin: Option<&HeaderValue>, out: &mut HeaderMap) -> bool {
    match origins {
        // The same answer for every origin, so caches need no `Vary`.
        CorsOrigins::Any => {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY);
            true
        }
        CorsOrigins::List(list) => {
            out.append(header::VARY, ORIGIN);
            match origin.filter(|o| list.contains(o)) {
                Some(origin) => {
                    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                    true
                }
                None => false,
            }
        }
    }
}
