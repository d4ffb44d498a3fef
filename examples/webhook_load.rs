//! Measures webhook delivery against a running `renvo serve` (start it with
//! `RENVO_WEBHOOK_ALLOW_PRIVATE=1 RENVO_RATE_LIMIT=0`): a receiver on 127.0.0.1 answers 204,
//! workers create customers for a while (flat out, or at a fixed total rate), and it prints
//! deliveries per second and the time from each create's answer to its delivery.
//!
//! `cargo run --release --example webhook_load -- BASE_URL KEY SECONDS WORKERS [RATE]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

#[tokio::main]
async fn main() {
    renvo::install_tls_provider();
    let args: Vec<String> = std::env::args().collect();
    let (base, key) = (args[1].clone(), args[2].clone());
    let seconds: u64 = args[3].parse().unwrap();
    let workers: usize = args[4].parse().unwrap();
    let rate: Option<f64> = args.get(5).map(|r| r.parse().unwrap());

    let delivered: Seen = Arc::default();
    let receiver = start_receiver(delivered.clone()).await;
    let client = reqwest::Client::new();
    let endpoint: Value = client
        .post(format!("{base}/v1/webhook_endpoints"))
        .bearer_auth(&key)
        .json(&json!({"url": receiver, "enabled_events": ["customer.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let pause = rate.map(|r| Duration::from_secs_f64(workers as f64 / r));
    let answered: Seen = Arc::default();
    let mut running = Vec::new();
    for _ in 0..workers {
        let (client, base, key) = (client.clone(), base.clone(), key.clone());
        let answered = answered.clone();
        running.push(tokio::spawn(async move {
            create_until(&client, &base, &key, deadline, pause, &answered).await
        }));
    }
    for worker in running {
        worker.await.unwrap();
    }
    let created = answered.lock().unwrap().len();
    let wait_until = Instant::now() + Duration::from_secs(60);
    while delivered.lock().unwrap().len() < created && Instant::now() < wait_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    report(started, &answered, &delivered);
    client
        .delete(format!(
            "{base}/v1/webhook_endpoints/{}",
            endpoint["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
}

async fn create_until(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    deadline: Instant,
    pause: Option<Duration>,
    answered: &Seen,
) {
    let mut next = Instant::now();
    while Instant::now() < deadline {
        let reply = client
            .post(format!("{base}/v1/customers"))
            .bearer_auth(key)
            .json(&json!({"full_name": "Load Test"}))
            .send()
            .await
            .unwrap();
        let at = Instant::now();
        let body: Value = reply.json().await.unwrap();
        if let Some(id) = body["id"].as_str() {
            answered.lock().unwrap().insert(id.to_owned(), at);
        }
        if let Some(pause) = pause {
            next += pause;
            tokio::time::sleep_until(next.into()).await;
        }
    }
}

async fn start_receiver(delivered: Seen) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = Router::new().fallback(receive).with_state(delivered);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn receive(State(delivered): State<Seen>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(id) = event["data"]["id"].as_str() {
        delivered.lock().unwrap().entry(id.to_owned()).or_insert(at);
    }
    StatusCode::NO_CONTENT
}

fn report(started: Instant, answered: &Seen, delivered: &Seen) {
    let answered = answered.lock().unwrap();
    let delivered = delivered.lock().unwrap();
    let last = delivered.values().max().copied().unwrap_or(started);
    let span = last.duration_since(started).as_secs_f64();
    let mut lags: Vec<f64> = answered
        .iter()
        .filter_map(|(id, at)| delivered.get(id).map(|d| d.saturating_duration_since(*at)))
        .map(|lag| lag.as_secs_f64() * 1e3)
        .collect();
    lags.sort_by(f64::total_cmp);
    let percentile = |p: f64| lags[((lags.len() as f64 - 1.0) * p) as usize];
    println!(
        "created {} customers, delivered {} events in {span:.2} s: {:.0} deliveries/s",
        answered.len(),
        delivered.len(),
        delivered.len() as f64 / span
    );
    if !lags.is_empty() {
        println!(
            "answer-to-delivery ms: p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
            percentile(0.5),
            percentile(0.9),
            percentile(0.99),
            percentile(1.0)
        );
    }
}
