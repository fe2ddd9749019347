-- Named queries of the SQLite store. Each starts with a "-- name: <name>" line.
-- Parameters are :named; times are seconds since the Unix epoch.

-- name: insert_inbox
INSERT INTO inbox (source, dedupe_key, headers, body, correlation_id, received_at)
VALUES (:source, :dedupe_key, :headers, :body, :correlation_id, :now)
ON CONFLICT (source, dedupe_key) DO NOTHING
RETURNING id;

-- name: inbox_id_by_key
SELECT id FROM inbox WHERE source = :source AND dedupe_key = :dedupe_key;

-- name: claim_inbox
UPDATE inbox
SET token = token + 1, claimed_by = :worker, lease_expires_at = :lease_expires_at
WHERE id IN (
    SELECT id FROM inbox
    WHERE status = 'received' AND (lease_expires_at IS NULL OR lease_expires_at <= :now)
    ORDER BY id
    LIMIT :limit
)
RETURNING *;

-- name: mark_inbox
UPDATE inbox
SET status = :status, reason = :reason, settled_at = :now, lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'received' AND lease_expires_at > :now;

-- name: get_inbox
SELECT * FROM inbox WHERE id = :id;

-- name: list_inbox
SELECT * FROM inbox WHERE status = :status ORDER BY id LIMIT :limit;

-- name: lock_events
SELECT 1;

-- name: insert_event
INSERT INTO events (event_id, type, subject, correlation_id, body, recorded_at)
VALUES (:event_id, :type, :subject, :correlation_id, :body, :now)
ON CONFLICT (event_id) DO NOTHING
RETURNING position, body, recorded_at;

-- name: event_by_id
SELECT position, body, recorded_at FROM events WHERE event_id = :event_id;

-- name: read_events
SELECT position, body, recorded_at FROM events
WHERE position > :after ORDER BY position LIMIT :limit;

-- name: events_by_subject
SELECT position, body, recorded_at FROM events
WHERE subject = :subject ORDER BY position LIMIT :limit;

-- name: events_by_correlation
SELECT position, body, recorded_at FROM events
WHERE correlation_id = :correlation_id ORDER BY position LIMIT :limit;

-- name: insert_command
INSERT INTO commands (
    idempotency_key, destination, kind, payload, partition_key, priority, max_attempts,
    correlation_id, enqueued_at, not_before, replay_of
)
VALUES (
    :idempotency_key, :destination, :kind, :payload, :partition_key, :priority, :max_attempts,
    :correlation_id, :now, :not_before, :replay_of
)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id;

-- name: command_id_by_key
SELECT id FROM commands WHERE idempotency_key = :idempotency_key;

-- name: claim_commands
UPDATE commands
SET status = 'running',
    taken_over_from = CASE WHEN status = 'running' THEN worker END,
    worker = :worker,
    token = token + 1,
    attempts = attempts + 1,
    lease_expires_at = :lease_expires_at
WHERE id IN (
    SELECT c.id FROM commands AS c
    WHERE c.status IN ('pending', 'running')
      AND ((c.status = 'pending' AND c.not_before <= :now)
           OR (c.status = 'running' AND c.lease_expires_at <= :now))
      AND (:destinations IS NULL
           OR c.destination IN (SELECT value FROM json_each(:destinations)))
      AND (c.partition_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM commands AS e
            WHERE e.partition_key = c.partition_key AND e.id < c.id
              AND e.status IN ('pending', 'running')))
    ORDER BY c.priority DESC, c.id
    LIMIT :limit
)
RETURNING *;

-- name: insert_attempt
INSERT INTO command_attempts (command_id, attempt, token, worker, outcome, error, finished_at)
VALUES (:command_id, :attempt, :token, :worker, :outcome, :error, :now);

-- name: complete_command
UPDATE commands
SET status = 'done', result = :result, finished_at = :now, lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'running' AND lease_expires_at > :now;

-- name: retry_command
UPDATE commands
SET status = 'pending', not_before = :not_before, worker = NULL, lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'running' AND lease_expires_at > :now;

-- name: dead_command
UPDATE commands
SET status = 'dead', dead_reason = :reason, finished_at = :now, lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'running' AND lease_expires_at > :now;

-- name: dead_command_unleased
UPDATE commands
SET status = 'dead', dead_reason = :reason, finished_at = :now, lease_expires_at = NULL,
    worker = NULL
WHERE id = :id AND token = :token;

-- name: extend_command
UPDATE commands
SET lease_expires_at = :lease_expires_at
WHERE id = :id AND token = :token AND status = 'running' AND lease_expires_at > :now;

-- name: release_command
UPDATE commands
SET status = 'pending', attempts = attempts - 1, worker = NULL, lease_expires_at = NULL
WHERE id = :id AND token = :token AND status = 'running' AND lease_expires_at > :now;

-- name: get_command
SELECT * FROM commands WHERE id = :id;

-- name: command_by_key
SELECT * FROM commands WHERE idempotency_key = :idempotency_key;

-- name: attempts_of
SELECT * FROM command_attempts WHERE command_id = :command_id ORDER BY id;

-- name: queue_depth
SELECT destination, count(*) AS depth FROM commands
WHERE status IN ('pending', 'running') GROUP BY destination;

-- name: dead_letter_counts
SELECT c.destination, count(*) AS dead FROM commands AS c
WHERE c.status = 'dead' AND NOT EXISTS (SELECT 1 FROM commands AS r WHERE r.replay_of = c.id)
GROUP BY c.destination;

-- name: purge_completed_attempts
DELETE FROM command_attempts WHERE command_id IN (
    SELECT id FROM commands WHERE status = 'done' AND finished_at < :before
);

-- name: purge_completed
DELETE FROM commands WHERE status = 'done' AND finished_at < :before;

-- name: purge_decoded_inbox
DELETE FROM inbox WHERE status = 'decoded' AND settled_at < :before;

-- name: list_dead
SELECT * FROM commands AS c
WHERE c.status = 'dead'
  AND (:destination IS NULL OR c.destination = :destination)
  AND (:include_replayed OR NOT EXISTS (SELECT 1 FROM commands AS r WHERE r.replay_of = c.id))
ORDER BY c.id
LIMIT :limit;

-- name: get_dead
SELECT * FROM commands WHERE id = :id AND status = 'dead';

-- name: replays_of
SELECT id FROM commands WHERE replay_of = :id ORDER BY id;

-- name: insert_audit
INSERT INTO audit_log (at, actor, action, command_id, new_command_id, detail)
VALUES (:now, :actor, :action, :command_id, :new_command_id, :detail);

-- name: audit_of
SELECT * FROM audit_log WHERE command_id = :command_id OR new_command_id = :command_id
ORDER BY id;

-- name: insert_link
INSERT INTO links (canonical_id, system, external_id, created_at)
VALUES (:canonical_id, :system, :external_id, :now)
ON CONFLICT DO NOTHING;

-- name: link_by_canonical
SELECT * FROM links WHERE canonical_id = :canonical_id AND system = :system;

-- name: link_by_external
SELECT * FROM links WHERE system = :system AND external_id = :external_id;

-- name: links_of
SELECT * FROM links WHERE canonical_id = :canonical_id ORDER BY system;

-- name: get_flow_state
SELECT * FROM flow_state WHERE flow = :flow AND key = :key;

-- name: insert_flow_state
INSERT INTO flow_state (flow, key, state, version, updated_at)
VALUES (:flow, :key, :state, 1, :now)
ON CONFLICT (flow, key) DO NOTHING
RETURNING version;

-- name: update_flow_state
UPDATE flow_state SET state = :state, version = version + 1, updated_at = :now
WHERE flow = :flow AND key = :key AND version = :expected_version
RETURNING version;

-- name: inbox_counts
SELECT source,
       CASE WHEN status = 'received' AND lease_expires_at > :now THEN 'claimed'
            ELSE status END AS state,
       count(*) AS n
FROM inbox
GROUP BY 1, 2;

-- name: get_breaker
SELECT * FROM breaker_state WHERE destination = :destination;

-- name: insert_breaker
INSERT INTO breaker_state (
    destination, state, consecutive_failures, window_start, window_calls, window_failures,
    opened_at, probe_id, probe_until, version, updated_at
) VALUES (
    :destination, :state, :consecutive_failures, :window_start, :window_calls,
    :window_failures, :opened_at, :probe_id, :probe_until, :version, :now
)
ON CONFLICT (destination) DO NOTHING;

-- name: update_breaker
UPDATE breaker_state
SET state = :state, consecutive_failures = :consecutive_failures,
    window_start = :window_start, window_calls = :window_calls,
    window_failures = :window_failures, opened_at = :opened_at, probe_id = :probe_id,
    probe_until = :probe_until, version = :version, updated_at = :now
WHERE destination = :destination AND version = :expected;

-- name: list_breakers
SELECT * FROM breaker_state ORDER BY destination;
