-- Webhook endpoints, the deliveries queued for them, and every attempt made. Times are Unix
-- milliseconds. A delivery is claimed by setting `locked_until` (the lease, also the token the
-- claimer records its outcome with) and moving `next_attempt_at` to the lease's end, so a
-- claimer that dies leaves the row due again once the lease runs out.

CREATE TABLE webhook_endpoints (
    id                    BLOB PRIMARY KEY,
    account_id            BLOB NOT NULL REFERENCES accounts (id),
    mode                  TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    url                   TEXT NOT NULL,
    description           TEXT,
    -- A JSON array of event type names, or ["*"].
    enabled_events        TEXT NOT NULL,
    secret                TEXT NOT NULL,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    disabled_reason       TEXT,
    disabled_at           INTEGER,
    created_at            INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (account_id, mode, id);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- pending: waiting or in flight; paused: its endpoint is disabled; succeeded; failed.
    state            TEXT NOT NULL
                     CHECK (state IN ('pending', 'paused', 'succeeded', 'failed')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    locked_until     INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, state);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id               BLOB PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL,
    event_type       TEXT NOT NULL,
    attempted_at     INTEGER NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    duration_ms      INTEGER NOT NULL,
    next_attempt_at  INTEGER
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
