//! Reading webhook rows back into domain values.

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::super::rows::{corrupt, mode_of, optional_time_of, time_of};
use crate::domain::event::EventType;
use crate::domain::webhook::{
    DisabledReason, EnabledEvents, WebhookAttempt, WebhookEndpoint, WebhookSecret,
};
use crate::domain::{EventId, WebhookAttemptId, WebhookEndpointId};
use crate::store::StoreResult;

pub(super) fn secret_of(row: &PgRow) -> StoreResult<WebhookSecret> {
    WebhookSecret::from_stored(row.try_get("secret")?)
        .ok_or_else(|| corrupt("webhook_endpoints.secret"))
}

pub(super) fn event_type_of(row: &PgRow, column: &str) -> StoreResult<EventType> {
    EventType::parse(row.try_get(column)?).ok_or_else(|| corrupt(column))
}

/// Expects `enabled_events` selected as text (`enabled_events::text`).
pub(super) fn endpoint_from_row(row: &PgRow) -> StoreResult<WebhookEndpoint> {
    let names: Vec<String> = serde_json::from_str(row.try_get("enabled_events")?)
        .map_err(|_| corrupt("webhook_endpoints.enabled_events"))?;
    let enabled_events = EnabledEvents::parse(names.iter().map(String::as_str))
        .map_err(|_| corrupt("webhook_endpoints.enabled_events"))?;
    let disabled_reason = match row.try_get::<Option<&str>, _>("disabled_reason")? {
        None => None,
        Some(text) => Some(
            DisabledReason::parse(text)
                .ok_or_else(|| corrupt("webhook_endpoints.disabled_reason"))?,
        ),
    };
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(row.try_get("id")?),
        mode: mode_of(row)?,
        url: row.try_get("url")?,
        description: row.try_get("description")?,
        enabled_events,
        secret: secret_of(row)?,
        disabled_reason,
        disabled_at: optional_time_of(row, "disabled_at")?,
        created_at: time_of(row, "created_at")?,
    })
}

pub(super) fn attempt_from_row(row: &PgRow) -> StoreResult<WebhookAttempt> {
    Ok(WebhookAttempt {
        id: WebhookAttemptId(row.try_get("id")?),
        endpoint: WebhookEndpointId(row.try_get("endpoint_id")?),
        event: EventId(row.try_get("event_id")?),
        event_type: event_type_of(row, "event_type")?,
        attempted_at: time_of(row, "attempted_at")?,
        status_code: row
            .try_get::<Option<i32>, _>("status_code")?
            .and_then(|code| u16::try_from(code).ok()),
        error: row.try_get("error")?,
        duration_ms: row.try_get("duration_ms")?,
        next_attempt_at: optional_time_of(row, "next_attempt_at")?,
    })
}
