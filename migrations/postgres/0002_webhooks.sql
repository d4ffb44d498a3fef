-- Webhook endpoints, the deliveries queued for them, and every attempt made: the SQLite tables
-- in native types. Times are Unix milliseconds (bigint). A delivery is claimed by setting
-- `locked_until` (the lease, also the token the claimer records its outcome with) and moving
-- `next_attempt_at` to the lease's end, so a claimer that dies leaves the row due again once
-- the lease runs out. Claims lock the rows they take with `FOR UPDATE SKIP LOCKED`, so nodes
-- claiming at the same moment never take the same row.

CREATE TABLE webhook_endpoints (
    id                    uuid PRIMARY KEY,
    account_id            uuid NOT NULL REFERENCES accounts (id),
    mode                  text NOT NULL CHECK (mode IN ('live', 'test')),
    url                   text NOT NULL,
    description           text,
    -- An array of event type names, or ["*"].
    enabled_events        jsonb NOT NULL CHECK (jsonb_typeof(enabled_events) = 'array'),
    secret                text NOT NULL,
    consecutive_failures  bigint NOT NULL DEFAULT 0,
    disabled_reason       text,
    disabled_at           bigint,
    created_at            bigint NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (account_id, mode, id);

CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- pending: waiting or in flight; paused: its endpoint is disabled; succeeded; failed.
    state            text NOT NULL
                     CHECK (state IN ('pending', 'paused', 'succeeded', 'failed')),
    attempt_count    bigint NOT NULL DEFAULT 0,
    next_attempt_at  bigint,
    locked_until     bigint NOT NULL DEFAULT 0,
    created_at       bigint NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, state);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id               uuid PRIMARY KEY,
    delivery_id      bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    attempted_at     bigint NOT NULL,
    status_code      integer,
    error            text,
    duration_ms      bigint NOT NULL,
    next_attempt_at  bigint
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);
