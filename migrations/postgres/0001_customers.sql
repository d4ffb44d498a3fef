-- Accounts, keys, customers, events and idempotency records: the same tables as the SQLite
-- schema in native types. Times are Unix milliseconds (bigint), so both backends store and
-- return identical values; ids are UUIDv7, whose byte order (uuid's sort order) is creation order.

CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  bigint NOT NULL
);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts (id),
    mode          text NOT NULL CHECK (mode IN ('live', 'test')),
    scope         text NOT NULL CHECK (scope IN ('read', 'read_write')),
    prefix        text NOT NULL,
    last4         text NOT NULL,
    digest        bytea NOT NULL,
    created_at    bigint NOT NULL,
    last_used_at  bigint,
    revoked_at    bigint
);
CREATE UNIQUE INDEX api_keys_digest ON api_keys (digest);
CREATE INDEX api_keys_account ON api_keys (account_id, id);

CREATE TABLE customers (
    id                  uuid PRIMARY KEY,
    account_id          uuid NOT NULL REFERENCES accounts (id),
    mode                text NOT NULL CHECK (mode IN ('live', 'test')),
    full_name           text NOT NULL,
    email               text,
    email_folded        text,
    phone               text,
    preferred_language  text NOT NULL,
    source_channel      text,
    notes               text,
    is_returning        boolean NOT NULL,
    total_rentals       bigint NOT NULL,
    overall_score       double precision NOT NULL,
    created_at          bigint NOT NULL,
    updated_at          bigint NOT NULL
);
CREATE INDEX customers_tenant_id ON customers (account_id, mode, id);
CREATE INDEX customers_tenant_email ON customers (account_id, mode, email_folded, id);

CREATE TABLE events (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id),
    mode        text NOT NULL CHECK (mode IN ('live', 'test')),
    type        text NOT NULL,
    created_at  bigint NOT NULL,
    -- text, not jsonb: an event's bytes are fixed when it is made and served as they are.
    payload     text NOT NULL
);
CREATE INDEX events_tenant_id ON events (account_id, mode, id);
CREATE INDEX events_tenant_type ON events (account_id, mode, type, id);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE idempotency_keys (
    account_id   uuid NOT NULL,
    mode         text NOT NULL,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    status       integer NOT NULL,
    body         text NOT NULL,
    created_at   bigint NOT NULL,
    -- Named: a second writer of the same key is recognised by this constraint.
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account_id, mode, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
