//! Tracing to stderr (text or JSON, filtered by `RUST_LOG`) and the Prometheus recorder.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the tracing subscriber; call once, from `main`.
pub fn init_tracing(format: LogFormat) {
    // sqlx reports PostgreSQL's notices (such as "relation already exists, skipping" on every
    // migration check) at info; they are not the operator's business.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ])
                .ok()?
                // A count of jobs, not a time: buckets of its own.
                .set_buckets_for_metric(
                    Matcher::Full("renvo_sqlite_batch_size".to_owned()),
                    &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .clone()
}

/// One request's series: its count by route, method and status, and its duration by route and
/// method.
#[derive(Clone)]
pub struct RequestSeries {
    pub requests: Counter,
    pub duration: Histogram,
}

/// The series for a request, registered on first use and then kept: looking labelled series up
/// in the recorder on every request cost more than the rest of the request's bookkeeping.
/// Routes and methods are fixed sets and statuses few, so the map stays small.
pub fn request_series(route: &'static str, method: &'static str, status: u16) -> RequestSeries {
    type Series = Mutex<HashMap<(&'static str, &'static str, u16), RequestSeries>>;
    static SERIES: OnceLock<Series> = OnceLock::new();
    let series = SERIES.get_or_init(|| {
        // Handles made before the recorder exists would record nowhere.
        metrics_handle();
        Mutex::default()
    });
    let mut series = series
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    series
        .entry((route, method, status))
        .or_insert_with(|| {
            let labels = [
                ("route", route.to_owned()),
                ("method", method.to_owned()),
                ("status", status.to_string()),
            ];
            RequestSeries {
                requests: metrics::counter!("renvo_http_requests_total", &labels),
                duration: metrics::histogram!("renvo_http_request_duration_seconds", &labels[..2]),
            }
        })
        .clone()
}

/// Folds recorded histogram samples into their buckets every few seconds. The recorder keeps
/// raw samples until then, so a server nobody scrapes would otherwise grow without bound.
pub async fn metrics_upkeep(shutdown: tokio_util::sync::CancellationToken) {
    let Some(handle) = metrics_handle() else {
        return;
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(5)) => handle.run_upkeep(),
        }
    }
}
