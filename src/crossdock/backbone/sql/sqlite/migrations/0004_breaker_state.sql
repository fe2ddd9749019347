-- Circuit-breaker state per destination, shared by every worker and read by the console.
-- Writes are compare-and-set on version, so exactly one caller wins a half-open probe.
-- Times are seconds since the Unix epoch (UTC).

CREATE TABLE breaker_state (
    destination          TEXT    PRIMARY KEY,
    state                TEXT    NOT NULL DEFAULT 'closed'
                                 CHECK (state IN ('closed', 'open', 'half_open')),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    window_start         REAL    NOT NULL DEFAULT 0,
    window_calls         INTEGER NOT NULL DEFAULT 0,
    window_failures      INTEGER NOT NULL DEFAULT 0,
    opened_at            REAL,
    probe_id             TEXT,
    probe_until          REAL,
    version              INTEGER NOT NULL,
    updated_at           REAL    NOT NULL
);
