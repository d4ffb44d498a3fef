-- Accounts, keys, customers, events and idempotency records. Times are Unix milliseconds;
-- ids are 16-byte UUIDv7 blobs, so byte order is creation order.

CREATE TABLE accounts (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id            BLOB PRIMARY KEY,
    account_id    BLOB NOT NULL REFERENCES accounts (id),
    mode          TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'read_write')),
    prefix        TEXT NOT NULL,
    last4         TEXT NOT NULL,
    digest        BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX api_keys_digest ON api_keys (digest);
CREATE INDEX api_keys_account ON api_keys (account_id, id);

CREATE TABLE customers (
    id                  BLOB PRIMARY KEY,
    account_id          BLOB NOT NULL REFERENCES accounts (id),
    mode                TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    full_name           TEXT NOT NULL,
    email               TEXT,
    email_folded        TEXT,
    phone               TEXT,
    preferred_language  TEXT NOT NULL,
    source_channel      TEXT,
    notes               TEXT,
    is_returning        INTEGER NOT NULL,
    total_rentals       INTEGER NOT NULL,
    overall_score       REAL NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX customers_tenant_id ON customers (account_id, mode, id);
CREATE INDEX customers_tenant_email ON customers (account_id, mode, email_folded, id);

CREATE TABLE events (
    id          BLOB PRIMARY KEY,
    account_id  BLOB NOT NULL REFERENCES accounts (id),
    mode        TEXT NOT NULL CHECK (mode IN ('live', 'test')),
    type        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX events_tenant_id ON events (account_id, mode, id);
CREATE INDEX events_tenant_type ON events (account_id, mode, type, id);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE idempotency_keys (
    account_id   BLOB NOT NULL,
    mode         TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, mode, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
