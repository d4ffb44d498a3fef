//! One HTTP attempt: POST the stored event bytes with the contract's headers and signatures,
//! without following redirects, within the timeout, only to public addresses.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use super::guard::{AddressGuard, GuardError, PublicOnlyResolver};
use super::signing;
use crate::domain::timestamp::Timestamp;
use crate::store::webhooks::ClaimedDelivery;

pub const USER_AGENT: &str = "Renvo-Webhooks/1.0";
/// Most of an answer's body read (and thrown away) so its connection can be reused.
const MAX_DRAINED_BYTES: usize = 64 * 1024;

/// How an endpoint answered one attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    pub status_code: Option<u16>,
    /// Why it failed, for the attempt log; `None` on success.
    pub error: Option<String>,
    pub duration: Duration,
}

impl Sent {
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

/// The HTTP client deliveries share: no proxy, no redirects, the guard's resolver.
pub struct Sender {
    client: reqwest::Client,
    guard: AddressGuard,
    timeout: Duration,
}

impl Sender {
    pub fn new(guard: AddressGuard, timeout: Duration) -> Result<Sender, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(64);
        if !guard.allow_private {
            builder = builder.dns_resolver(PublicOnlyResolver);
        }
        Ok(Sender {
            client: builder.build()?,
            guard,
            timeout,
        })
    }

    /// Sends one attempt; every failure is described, never raised.
    pub async fn send(&self, delivery: &ClaimedDelivery) -> Sent {
        let started = Instant::now();
        let result = self.exchange(delivery).await;
        let duration = started.elapsed();
        match result {
            Ok(status) if (200..300).contains(&status) => Sent {
                status_code: Some(status),
                error: None,
                duration,
            },
            Ok(status) => Sent {
                status_code: Some(status),
                error: Some(describe_status(status)),
                duration,
            },
            Err(error) => Sent {
                status_code: None,
                error: Some(error),
                duration,
            },
        }
    }

    async fn exchange(&self, delivery: &ClaimedDelivery) -> Result<u16, String> {
        let url =
            reqwest::Url::parse(&delivery.url).map_err(|_| "the URL is invalid".to_owned())?;
        self.guard
            .check_literal(&url)
            .map_err(|error| error.to_string())?;

        let headers = headers_for(delivery, Timestamp::now().unix_seconds())?;
        let mut response = self
            .client
            .post(url)
            .headers(headers)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|error| self.describe_error(&error))?;

        let status = response.status().as_u16();
        let mut drained = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            drained += chunk.len();
            if drained > MAX_DRAINED_BYTES {
                break;
            }
        }
        Ok(status)
    }

    fn describe_error(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {} s", self.timeout.as_secs());
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<GuardError>() {
                return refused.to_string();
            }
            source = cause.source();
        }
        if error.is_connect() {
            return "could not connect".to_owned();
        }
        "the request failed before an answer".to_owned()
    }
}

/// Every header of a delivery; only the timestamp and its signatures differ between attempts.
pub fn headers_for(delivery: &ClaimedDelivery, timestamp: i64) -> Result<HeaderMap, String> {
    let event_id = delivery.event.to_string();
    let signed = signing::sign(&delivery.secret, &event_id, timestamp, &delivery.payload);
    let pairs = [
        ("renvo-event-id", event_id.clone()),
        ("renvo-event-type", delivery.event_type.as_str().to_owned()),
        ("renvo-signature", signed.renvo),
        ("webhook-id", event_id),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signed.standard),
    ];
    let mut headers = HeaderMap::with_capacity(pairs.len() + 1);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in pairs {
        let value = HeaderValue::from_str(&value).map_err(|_| format!("bad {name} header"))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

fn describe_status(status: u16) -> String {
    match status {
        300..=399 => format!("answered {status}; redirects are not followed"),
        410 => "answered 410 Gone; the endpoint is disabled".to_owned(),
        _ => format!("answered {status}"),
    }
}
