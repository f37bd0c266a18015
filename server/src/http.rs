//! The HTTP API: routing, the three data endpoints, health, CORS, request logs.
//!
//! Data paths are parsed from the raw, still percent-encoded request path by
//! `runkv_protocol::parse_data_path`, never by a framework extractor: a
//! decoding extractor would turn `%2F` into a path separator and `%41` into
//! `A`, and keys must arrive byte-exact.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http_body_util::BodyExt;
use runkv_protocol::{parse_data_path, parse_ttl, validate_key, DataPath, ErrorCode, Op};
use runkv_protocol::{Precondition, Version};
use serde::Serialize;
use tower::ServiceExt;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

use crate::error::ApiError;
use crate::store::Condition;
use crate::{App, CorsOrigins};

/// The router for `app`: the API, and the static site when one is configured.
pub fn router(app: Arc<App>) -> Router {
    let cors = cors_layer(&app.cors_origins);
    // tower-http answers every OPTIONS request as a preflight, with an empty
    // body; one that is not a preflight gets our JSON 405 instead.
    let router = Router::new()
        .fallback(dispatch)
        .with_state(app)
        .layer(cors)
        .layer(middleware::from_fn(refuse_plain_options));

    // The per-request log layer costs a little on every request, so it is
    // only installed when its lines would be written.
    if tracing::enabled!(tracing::Level::DEBUG) {
        router.layer(middleware::from_fn(log_request))
    } else {
        router
    }
}

/// Every request comes through here: the API's routes are few and fixed, and
/// matching them by hand keeps the raw path intact and every answer ours.
async fn dispatch(State(app): State<Arc<App>>, request: Request) -> Response {
    let app = &*app;
    let path = request.uri().path();
    let method = request.method().clone();

    if path == "/healthz" {
        if method != Method::GET && method != Method::HEAD {
            return method_not_allowed("GET");
        }
        return Json(Health { status: "ok" }).into_response();
    }

    let endpoint = path.strip_prefix('/').and_then(|p| p.split_once('/')).map(|(e, _)| e);
    let Some(op) = endpoint.and_then(Op::from_endpoint) else {
        return match &app.www {
            Some(dir) => serve_static(dir, request).await,
            None => ApiError::route_not_found().into_response(),
        };
    };
    let allowed = method.as_str() == op.method() || (op == Op::Get && method == Method::HEAD);
    if !allowed {
        return method_not_allowed(op.method());
    }

    let result = match op {
        Op::Get => get_value(app, request).await,
        Op::Set => set_value(app, request).await,
        Op::Delete => delete_value(app, request).await,
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

#[derive(Serialize)]
struct GetBody {
    value: String,
    version: String,
}

#[derive(Serialize)]
struct SetBody {
    version: String,
}

#[derive(Serialize)]
struct DeleteBody {
    deleted: bool,
}

async fn get_value(app: &App, request: Request) -> Result<Response, ApiError> {
    let target = app.target(&request)?;
    let if_none_match = precondition(request.headers(), &header::IF_NONE_MATCH)?;

    let entry = app.store.get(&target.namespace, &target.key, app.clock.now_ms()).await?;
    let entry = entry.ok_or_else(ApiError::key_not_found)?;

    if if_none_match.is_some_and(|p| p.matches(Some(entry.version))) {
        return Ok(with_version(StatusCode::NOT_MODIFIED.into_response(), entry.version));
    }
    let body = GetBody { value: entry.value, version: entry.version.to_string() };
    Ok(with_version(Json(body).into_response(), entry.version))
}

async fn set_value(app: &App, request: Request) -> Result<Response, ApiError> {
    let target = app.target(&request)?;
    let ttl = ttl_param(request.uri().query())?;
    let condition = write_condition(request.headers())?;
    let value = read_value(request, app.limits.max_value_bytes).await?;

    // Expiry is an absolute time, so that it holds across restarts.
    let now = app.clock.now_ms();
    let expires_at = ttl.map(|secs| now.saturating_add(secs.saturating_mul(1000)));
    let outcome =
        app.store.set(&target.namespace, &target.key, value, expires_at, &condition, now).await?;
    let version = outcome.map_err(|c| conflict(c.current))?;
    Ok(with_version(Json(SetBody { version: version.to_string() }).into_response(), version))
}

async fn delete_value(app: &App, request: Request) -> Result<Response, ApiError> {
    let target = app.target(&request)?;
    let condition = write_condition(request.headers())?;
    let now = app.clock.now_ms();
    let outcome = app.store.delete(&target.namespace, &target.key, &condition, now).await?;
    let deleted = outcome.map_err(|c| conflict(c.current))?;
    Ok(no_store(Json(DeleteBody { deleted }).into_response()))
}

impl App {
    /// The namespace and key a data request addresses, once the key fits this
    /// server's limit and the request's token may use the namespace.
    fn target(&self, request: &Request) -> Result<DataPath, ApiError> {
        let target =
            parse_data_path(request.uri().path())?.ok_or_else(ApiError::route_not_found)?;
        validate_key(&target.key, self.limits.max_key_bytes)?;
        let authorization = request.headers().get(header::AUTHORIZATION);
        self.tokens.authorize(authorization, &target.namespace, target.op.is_write())?;
        Ok(target)
    }
}

/// The `ttl` query parameter, if given. Other parameters are ignored, as
/// clients may add their own (cache busters, for one).
fn ttl_param(query: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut values = form_urlencoded::parse(query.as_bytes()).filter(|(name, _)| name == "ttl");
    let Some((_, raw)) = values.next() else {
        return Ok(None);
    };
    // Two ttls are a client bug; picking one of them would hide it.
    if values.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidTtl,
            "invalid ttl: it is given more than once",
        ));
    }
    Ok(Some(parse_ttl(&raw)?))
}

fn precondition(headers: &HeaderMap, name: &HeaderName) -> Result<Option<Precondition>, ApiError> {
    let Some(raw) = headers.get(name) else {
        return Ok(None);
    };
    let raw = raw.to_str().map_err(|_| {
        ApiError::new(ErrorCode::InvalidPrecondition, format!("{name} is not ASCII"))
    })?;
    Ok(Some(Precondition::parse(raw)?))
}

fn write_condition(headers: &HeaderMap) -> Result<Condition, ApiError> {
    let if_match = precondition(headers, &header::IF_MATCH)?;
    let if_none_match = precondition(headers, &header::IF_NONE_MATCH)?;
    match (if_match, if_none_match) {
        (None, None) => Ok(Condition::Always),
        (Some(p), None) => Ok(Condition::IfMatch(p)),
        (None, Some(p)) => Ok(Condition::IfNoneMatch(p)),
        (Some(_), Some(_)) => Err(ApiError::new(
            ErrorCode::InvalidPrecondition,
            "send If-Match or If-None-Match, not both",
        )),
    }
}

fn conflict(current: Option<Version>) -> ApiError {
    let message = match current {
        Some(v) => format!("version conflict: the current version is {v}"),
        None => "version conflict: the key does not exist".to_owned(),
    };
    ApiError::new(ErrorCode::VersionConflict, message)
}

/// How much of an oversized body is read and thrown away before answering
/// 413. Simple clients (Python's urllib, for one) send the whole body before
/// they read the answer; if the server closed the connection on them
/// instead, they would see a broken pipe rather than the 413. Past this
/// much the connection is closed anyway, so a client cannot keep the server
/// busy reading.
const DISCARD_LIMIT: u64 = 16 * 1024 * 1024;

/// Reads the body as the value: raw bytes that must be UTF-8, never
/// form-decoded whatever the Content-Type says. At most `limit` bytes are
/// ever held: a declared length far above the limit is refused before
/// reading, and the rest of a body that passes the limit is discarded as it
/// arrives.
/// How long the body of a write may go without any bytes arriving.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

async fn read_value(request: Request, limit: usize) -> Result<String, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::ValueTooLarge,
            format!("the value is larger than the limit of {limit} bytes"),
        )
    };
    let limit = limit as u64;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(DISCARD_LIMIT)) {
        return Err(too_large());
    }

    let mut body = request.into_body();
    let mut value = Vec::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    let mut received: u64 = 0;
    loop {
        // A client that stops sending mid-body would otherwise hold its
        // connection, and a graceful shutdown, open indefinitely.
        let Ok(next) = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.frame()).await else {
            return Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the request body stalled: nothing arrived for {} seconds",
                    BODY_IDLE_TIMEOUT.as_secs()
                ),
            ));
        };
        let Some(frame) = next else { break };
        let frame = frame.map_err(|e| {
            ApiError::new(ErrorCode::InvalidValue, format!("cannot read the request body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received <= limit {
            value.extend_from_slice(&data);
        } else {
            value = Vec::new();
            if received > limit.saturating_add(DISCARD_LIMIT) {
                break;
            }
        }
    }
    if received > limit {
        return Err(too_large());
    }
    String::from_utf8(value)
        .map_err(|_| ApiError::new(ErrorCode::InvalidValue, "the value is not valid UTF-8"))
}

/// Adds the version as the `ETag`, and forbids caching: a runner must never
/// be served an old value by a browser or proxy cache.
fn with_version(mut response: Response, version: Version) -> Response {
    if let Ok(etag) = HeaderValue::from_str(&version.to_etag()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn method_not_allowed(allow: &'static str) -> Response {
    let error = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("method not allowed here; this endpoint takes {allow}"),
    );
    let mut response = error.into_response();
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// Serves a file of the static site; anything it does not have is our JSON
/// `route_not_found`.
async fn serve_static(dir: &std::path::Path, request: Request) -> Response {
    let not_found = tower::service_fn(|_: Request| async {
        Ok::<_, Infallible>(ApiError::route_not_found().into_response())
    });
    let files = ServeDir::new(dir).call_fallback_on_method_not_allowed(true).fallback(not_found);
    match files.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            ApiError::new(ErrorCode::Internal, format!("cannot serve a file: {e}")).into_response()
        }
    }
}

async fn refuse_plain_options(request: Request, next: Next) -> Response {
    let preflight = request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if request.method() == Method::OPTIONS && !preflight {
        return method_not_allowed("GET, PUT, DELETE");
    }
    next.run(request).await
}

fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    let allow_origin = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(list.iter().cloned()),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::HEAD, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ])
        // Browsers hide response headers from scripts unless they are listed:
        // the SDK reads the version from `ETag` and honours `Retry-After`.
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .max_age(Duration::from_secs(24 * 60 * 60))
}

/// One debug line per request: method, route, namespace, status, latency.
/// Keys, values and tokens are never logged.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let mut segments = request.uri().path().trim_start_matches('/').splitn(3, '/');
    let first = segments.next().unwrap_or("");
    let (route, namespace) = match Op::from_endpoint(first) {
        Some(op) => {
            let ns = segments.next().filter(|ns| runkv_protocol::validate_namespace(ns).is_ok());
            (op.endpoint(), ns.map(str::to_owned))
        }
        None if first == "healthz" => ("healthz", None),
        None => ("other", None),
    };

    let response = next.run(request).await;
    tracing::debug!(
        %method,
        route,
        namespace = namespace.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
