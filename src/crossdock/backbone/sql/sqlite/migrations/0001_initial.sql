-- Inbox, event log, work queue, attempts, links and flow state.
-- Times are seconds since the Unix epoch (UTC); JSON is stored as text.

CREATE TABLE inbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    source           TEXT    NOT NULL,
    dedupe_key       TEXT    NOT NULL,
    headers          TEXT    NOT NULL,
    body             BLOB    NOT NULL,
    correlation_id   TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'received',
    received_at      REAL    NOT NULL,
    token            INTEGER NOT NULL DEFAULT 0,
    claimed_by       TEXT,
    lease_expires_at REAL,
    reason           TEXT,
    settled_at       REAL,
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbox_received ON inbox (id) WHERE status = 'received';
CREATE INDEX inbox_status ON inbox (status, id);

CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    type           TEXT NOT NULL,
    subject        TEXT,
    correlation_id TEXT NOT NULL,
    body           TEXT NOT NULL,
    recorded_at    REAL NOT NULL
);
CREATE INDEX events_subject ON events (subject, position);
CREATE INDEX events_correlation ON events (correlation_id, position);

CREATE TABLE commands (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    destination      TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    partition_key    TEXT,
    priority         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    correlation_id   TEXT,
    status           TEXT    NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    token            INTEGER NOT NULL DEFAULT 0,
    worker           TEXT,
    taken_over_from  TEXT,
    enqueued_at      REAL    NOT NULL,
    not_before       REAL    NOT NULL,
    lease_expires_at REAL,
    finished_at      REAL,
    result           TEXT,
    dead_reason      TEXT
);
CREATE INDEX commands_ready ON commands (priority DESC, id) WHERE status IN ('pending', 'running');
CREATE INDEX commands_partition ON commands (partition_key, id)
    WHERE status IN ('pending', 'running');
CREATE INDEX commands_done ON commands (finished_at) WHERE status = 'done';
CREATE INDEX commands_dead ON commands (id) WHERE status = 'dead';

CREATE TABLE command_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id  INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    token       INTEGER NOT NULL,
    worker      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    error       TEXT,
    finished_at REAL    NOT NULL
);
CREATE INDEX command_attempts_command ON command_attempts (command_id, id);

CREATE TABLE links (
    canonical_id TEXT NOT NULL,
    system       TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    created_at   REAL NOT NULL,
    PRIMARY KEY (canonical_id, system),
    UNIQUE (system, external_id)
);

CREATE TABLE flow_state (
    flow       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at REAL    NOT NULL,
    PRIMARY KEY (flow, key)
);
