//! The HTTP layer: the router every entry point shares, the request middleware, and one module
//! per resource.

pub mod auth;
pub mod body;
pub mod customers;
pub mod error;
pub mod events;
pub mod headers;
pub mod idempotency;
pub mod list;
pub mod openapi;
pub mod ops;
pub mod path;
pub mod server;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
pub mod webhook_wire;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use rand::distr::Distribution;
use serde::Serialize;
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use self::error::{ApiError, REQUEST_ID, echo};
use self::headers::single;
use crate::domain::ApiKeyId;
use crate::domain::timestamp::Timestamp;
use crate::store::{Store, StoredResponse};
use crate::webhook::guard::AddressGuard;

/// The API revision served when a request names none, and the only one known.
pub const CURRENT_VERSION: &str = "2026-05-05";
const VERSION_HEADER: &str = "renvo-version";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    rate_limiter: Option<DefaultKeyedRateLimiter<ApiKeyId>>,
    key_use: Mutex<HashMap<ApiKeyId, i64>>,
    dispatcher: Arc<Notify>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    webhook_guard: AddressGuard,
}

impl AppState {
    /// `rate_limit` is requests per second per key; 0 turns the limit off.
    pub fn new(store: Arc<dyn Store>, rate_limit: u32, dispatcher: Arc<Notify>) -> AppState {
        let rate_limiter =
            NonZeroU32::new(rate_limit).map(|n| RateLimiter::keyed(Quota::per_second(n)));
        AppState {
            inner: Arc::new(Shared {
                store,
                rate_limiter,
                key_use: Mutex::new(HashMap::new()),
                dispatcher,
                metrics: crate::telemetry::metrics_handle(),
                webhook_guard: AddressGuard::strict(),
            }),
        }
    }

    /// Sets where webhook URLs may point (strict unless set). Call it on a fresh state, before
    /// it is cloned into the router: afterwards it changes nothing.
    pub fn with_webhook_guard(mut self, guard: AddressGuard) -> AppState {
        if let Some(shared) = Arc::get_mut(&mut self.inner) {
            shared.webhook_guard = guard;
        }
        self
    }

    pub fn webhook_guard(&self) -> AddressGuard {
        self.inner.webhook_guard
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Tells the webhook dispatcher that new work was committed.
    pub fn wake_dispatcher(&self) {
        self.inner.dispatcher.notify_one();
    }

    fn check_rate(&self, key: ApiKeyId) -> Result<(), ApiError> {
        let Some(limiter) = &self.inner.rate_limiter else {
            return Ok(());
        };
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            ApiError::rate_limited(wait.as_secs_f64().ceil() as u64)
        })
    }

    /// `true` for the one request that should refresh this key's `last_used_at` now.
    fn claim_key_use(&self, key: ApiKeyId, now: Timestamp, resolution_millis: i64) -> bool {
        let mut seen = self
            .inner
            .key_use
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let last = seen.get(&key).copied().unwrap_or(i64::MIN);
        if now.unix_millis().saturating_sub(last) < resolution_millis {
            return false;
        }
        seen.insert(key, now.unix_millis());
        true
    }

    fn render_metrics(&self) -> String {
        self.inner
            .metrics
            .as_ref()
            .map(|handle| handle.render())
            .unwrap_or_default()
    }
}

/// Every route the router serves, as method and path: the list the OpenAPI document is checked
/// against. Each `/v1` route is also served, identically, under [`V1_ALIAS`].
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/customers"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/customers/{id}"),
    ("PATCH", "/v1/customers/{id}"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events/{id}"),
    ("POST", "/v1/events/{id}/resend"),
    ("GET", "/v1/webhook_endpoints"),
    ("POST", "/v1/webhook_endpoints"),
    ("GET", "/v1/webhook_endpoints/{id}"),
    ("PATCH", "/v1/webhook_endpoints/{id}"),
    ("DELETE", "/v1/webhook_endpoints/{id}"),
    ("GET", "/v1/webhook_endpoints/{id}/attempts"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
];

/// The prefix under which every `/v1` route is served a second time: Renvo's base URL ends in
/// `/api`.
pub const V1_ALIAS: &str = "/api";

/// The whole API: every route under `/v1` and, identically, under `/api/v1`. Both sets are
/// registered with their full paths rather than nested: a nested router costs a prefix strip
/// and a boxed service clone on every request.
pub fn router(state: AppState) -> Router {
    let routes = ["/v1".to_owned(), format!("{V1_ALIAS}/v1")]
        .iter()
        .fold(Router::new(), |routes, prefix| {
            routes
                .merge(customers::router(prefix))
                .merge(events::router(prefix))
                .merge(webhook_endpoints::router(prefix))
                .merge(webhook_deliveries::router(prefix))
                .route(
                    &format!("{prefix}/openapi.json"),
                    axum::routing::get(openapi::openapi_json),
                )
        })
        .merge(ops::router())
        .fallback(route_missing)
        .method_not_allowed_fallback(method_not_allowed);
    with_middleware(routes).with_state(state)
}

/// The layers around every route. A panic is caught inside `observe`, so its 500 carries the
/// request id like any other error.
fn with_middleware<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal().into_response()
        }))
        .layer(middleware::from_fn(observe))
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES))
}

async fn route_missing(method: Method, uri: Uri) -> ApiError {
    ApiError::route_missing(method.as_str(), uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

/// One span per request, the request id, the API version, and the request metrics.
async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let method = method_label(request.method());
    let route = route_label(request.extensions().get::<MatchedPath>());
    let span = tracing::info_span!(
        "request",
        method,
        route,
        request_id = %request_id,
        account = tracing::field::Empty,
        mode = tracing::field::Empty,
    );

    // A GET or HEAD writes nothing, so its reads can share one snapshot.
    let reads_only = matches!(*request.method(), Method::GET | Method::HEAD);
    let handled = async {
        match requested_version(request.headers()) {
            Ok(_) if reads_only => crate::store::one_snapshot(next.run(request)).await,
            Ok(_) => next.run(request).await,
            Err(error) => error.into_response(),
        }
    };
    let mut response = REQUEST_ID
        .scope(request_id.clone(), handled.instrument(span.clone()))
        .await;

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("request-id", value);
    }
    headers.insert(VERSION_HEADER, HeaderValue::from_static(CURRENT_VERSION));

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let series = crate::telemetry::request_series(route, method, status);
    series.requests.increment(1);
    series.duration.record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1e3,
            "request finished"
        )
    });
    response
}

/// The route as a label: the path pattern that matched, the same under `/v1` and `/api/v1`;
/// `unmatched` when none did.
fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    let Some(matched) = matched else {
        return "unmatched";
    };
    let path = matched.as_str();
    let path = path.strip_prefix(V1_ALIAS).unwrap_or(path);
    ROUTES
        .iter()
        .find(|(_, route)| *route == path)
        .map_or("unmatched", |(_, route)| route)
}

/// The method as a metrics label. Any token is a valid method, so a client could otherwise mint
/// a new, never-freed time series per request; methods outside the standard ones are `other`.
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ];
    STANDARD
        .iter()
        .find(|standard| *standard == method)
        .map_or("other", |standard| standard.as_str())
}

fn requested_version(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let sent_once = single(headers, VERSION_HEADER).map_err(|_| {
        ApiError::invalid(
            "Renvo-Version",
            "`Renvo-Version` was sent more than once; send one version.",
        )
    })?;
    let Some(value) = sent_once else {
        return Ok(CURRENT_VERSION);
    };
    if value.as_bytes() == CURRENT_VERSION.as_bytes() {
        return Ok(CURRENT_VERSION);
    }
    let shown = echo(value.to_str().unwrap_or("(not text)"));
    Err(ApiError::invalid(
        "Renvo-Version",
        format!("Unknown Renvo-Version `{shown}`; the known version is {CURRENT_VERSION}."),
    ))
}

/// `req_` and 20 random letters and digits.
fn new_request_id() -> String {
    let mut text = *b"req_00000000000000000000";
    let mut rng = rand::rng();
    for (slot, letter) in text[4..]
        .iter_mut()
        .zip(rand::distr::Alphanumeric.sample_iter(&mut rng))
    {
        *slot = letter;
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// A 200 with a JSON body.
pub fn json_response<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "response did not serialize");
            ApiError::internal().into_response()
        }
    }
}

/// A 201 with a JSON body.
pub fn created_response<T: Serialize>(value: &T) -> Response {
    let mut response = json_response(value);
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::CREATED;
    }
    response
}

/// The response a write produced or an idempotency key replays, byte for byte.
pub fn stored_response(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        stored.body,
    )
        .into_response();
    if stored.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_envelope_with_the_request_id() {
        async fn boom() -> &'static str {
            panic!("a handler bug")
        }
        let routes: Router = Router::new().route("/boom", get(boom));
        let request = Request::get("/boom").body(Body::empty()).unwrap();

        let response = with_middleware(routes).oneshot(request).await.unwrap();

        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let header = response.headers()["request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = to_bytes(response.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal_error");
        assert_eq!(body["error"]["request_id"], header.as_str());
    }
}
