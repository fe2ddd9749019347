-- Circuit-breaker state per destination, shared by every worker and read by the console.
-- Writes are compare-and-set on version, so exactly one caller wins a half-open probe.
-- Times are seconds since the Unix epoch (UTC).

CREATE TABLE breaker_state (
    destination          TEXT             PRIMARY KEY,
    state                TEXT             NOT NULL DEFAULT 'closed'
                                          CHECK (state IN ('closed', 'open', 'half_open')),
    consecutive_failures INTEGER          NOT NULL DEFAULT 0,
    window_start         DOUBLE PRECISION NOT NULL DEFAULT 0,
    window_calls         INTEGER          NOT NULL DEFAULT 0,
    window_failures      INTEGER          NOT NULL DEFAULT 0,
    opened_at            DOUBLE PRECISION,
    probe_id             TEXT,
    probe_until          DOUBLE PRECISION,
    version              BIGINT           NOT NULL,
    updated_at           DOUBLE PRECISION NOT NULL
);

-- The rate budgets shared across processes (crossdock.runtime.resilience.postgres), which
-- PostgresResilience.ensure_tables() used to create by itself: IF NOT EXISTS, because a
-- database that ran that older code already holds them. Times here are timestamptz, as the
-- budgets' statements expect.
CREATE TABLE IF NOT EXISTS crossdock_rate_budget (
    destination       TEXT             PRIMARY KEY,
    tokens            DOUBLE PRECISION NOT NULL,
    capacity          DOUBLE PRECISION NOT NULL,
    refill_per_second DOUBLE PRECISION NOT NULL,
    updated_at        TIMESTAMPTZ      NOT NULL,
    paused_until      TIMESTAMPTZ      NOT NULL DEFAULT '1970-01-01T00:00:00Z'
);
CREATE TABLE IF NOT EXISTS crossdock_rate_grants (
    id          BIGSERIAL   PRIMARY KEY,
    destination TEXT        NOT NULL,
    granted_at  TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS crossdock_rate_grants_destination
    ON crossdock_rate_grants (destination);
