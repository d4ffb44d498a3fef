//! Reading webhook rows back into domain values.

use rusqlite::Row;

use super::super::{mode_of, unexpected};
use crate::domain::event::EventType;
use crate::domain::timestamp::Timestamp;
use crate::domain::webhook::{
    DisabledReason, EnabledEvents, WebhookAttempt, WebhookEndpoint, WebhookSecret,
};
use crate::domain::{EventId, WebhookAttemptId, WebhookEndpointId};

pub(super) fn secret_of(row: &Row<'_>) -> rusqlite::Result<WebhookSecret> {
    let text: String = row.get("secret")?;
    WebhookSecret::from_stored(text).ok_or_else(|| unexpected(0, "webhook secret"))
}

pub(super) fn event_type_of(row: &Row<'_>, column: &str) -> rusqlite::Result<EventType> {
    let text: String = row.get(column)?;
    EventType::parse(&text).ok_or_else(|| unexpected(0, "event type"))
}

fn optional_time(row: &Row<'_>, column: &str) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row
        .get::<_, Option<i64>>(column)?
        .map(Timestamp::from_unix_millis))
}

/// Columns: id, mode, url, description, enabled_events, secret, disabled_reason,
/// disabled_at, created_at.
pub(super) fn endpoint_from_row(row: &Row<'_>) -> rusqlite::Result<WebhookEndpoint> {
    let events: String = row.get("enabled_events")?;
    let names: Vec<String> =
        serde_json::from_str(&events).map_err(|_| unexpected(4, "enabled_events"))?;
    let enabled_events = EnabledEvents::parse(names.iter().map(String::as_str))
        .map_err(|_| unexpected(4, "enabled_events"))?;
    let disabled_reason = match row.get::<_, Option<String>>("disabled_reason")? {
        None => None,
        Some(text) => {
            Some(DisabledReason::parse(&text).ok_or_else(|| unexpected(6, "disabled_reason"))?)
        }
    };
    Ok(WebhookEndpoint {
        id: WebhookEndpointId(row.get("id")?),
        mode: mode_of(row, 1)?,
        url: row.get("url")?,
        description: row.get("description")?,
        enabled_events,
        secret: secret_of(row)?,
        disabled_reason,
        disabled_at: optional_time(row, "disabled_at")?,
        created_at: Timestamp::from_unix_millis(row.get("created_at")?),
    })
}

pub(super) fn attempt_from_row(row: &Row<'_>) -> rusqlite::Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        id: WebhookAttemptId(row.get("id")?),
        endpoint: WebhookEndpointId(row.get("endpoint_id")?),
        event: EventId(row.get("event_id")?),
        event_type: event_type_of(row, "event_type")?,
        attempted_at: Timestamp::from_unix_millis(row.get("attempted_at")?),
        status_code: row
            .get::<_, Option<i64>>("status_code")?
            .and_then(|code| u16::try_from(code).ok()),
        error: row.get("error")?,
        duration_ms: row.get("duration_ms")?,
        next_attempt_at: optional_time(row, "next_attempt_at")?,
    })
}
