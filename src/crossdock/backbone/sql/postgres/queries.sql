-- Named queries of the PostgreSQL store. Each starts with a "-- name: <name>" line.
-- Parameters are %(named)s; times are seconds since the Unix epoch.

-- name: insert_inbox
INSERT INTO inbox (source, dedupe_key, headers, body, correlation_id, received_at)
VALUES (%(source)s, %(dedupe_key)s, %(headers)s, %(body)s, %(correlation_id)s, %(now)s)
ON CONFLICT (source, dedupe_key) DO NOTHING
RETURNING id;

-- name: inbox_id_by_key
SELECT id FROM inbox WHERE source = %(source)s AND dedupe_key = %(dedupe_key)s;

-- name: claim_inbox
UPDATE inbox
SET token = token + 1, claimed_by = %(worker)s, lease_expires_at = %(lease_expires_at)s
WHERE id IN (
    SELECT id FROM inbox
    WHERE status = 'received' AND (lease_expires_at IS NULL OR lease_expires_at <= %(now)s)
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: mark_inbox
UPDATE inbox
SET status = %(status)s, reason = %(reason)s, settled_at = %(now)s, lease_expires_at = NULL
WHERE id = %(id)s AND token = %(token)s AND status = 'received' AND lease_expires_at > %(now)s;

-- name: get_inbox
SELECT * FROM inbox WHERE id = %(id)s;

-- name: list_inbox
SELECT * FROM inbox WHERE status = %(status)s ORDER BY id LIMIT %(limit)s;

-- name: lock_events
-- Appends are serialised so that positions become visible in order (no reader skips one).
SELECT pg_advisory_xact_lock(7262010101);

-- name: insert_event
INSERT INTO events (event_id, type, subject, correlation_id, body, recorded_at)
VALUES (%(event_id)s, %(type)s, %(subject)s, %(correlation_id)s, %(body)s, %(now)s)
ON CONFLICT (event_id) DO NOTHING
RETURNING position, body, recorded_at;

-- name: event_by_id
SELECT position, body, recorded_at FROM events WHERE event_id = %(event_id)s;

-- name: read_events
SELECT position, body, recorded_at FROM events
WHERE position > %(after)s ORDER BY position LIMIT %(limit)s;

-- name: events_by_subject
SELECT position, body, recorded_at FROM events
WHERE subject = %(subject)s ORDER BY position LIMIT %(limit)s;

-- name: events_by_correlation
SELECT position, body, recorded_at FROM events
WHERE correlation_id = %(correlation_id)s ORDER BY position LIMIT %(limit)s;

-- name: insert_command
INSERT INTO commands (
    idempotency_key, destination, kind, payload, partition_key, priority, max_attempts,
    correlation_id, enqueued_at, not_before, replay_of
)
VALUES (
    %(idempotency_key)s, %(destination)s, %(kind)s, %(payload)s, %(partition_key)s, %(priority)s, %(max_attempts)s,
    %(correlation_id)s, %(now)s, %(not_before)s, %(replay_of)s
)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id;

-- name: command_id_by_key
SELECT id FROM commands WHERE idempotency_key = %(idempotency_key)s;

-- name: claim_commands
WITH candidates AS (
    SELECT c.id FROM commands AS c
    WHERE c.status IN ('pending', 'running')
      AND ((c.status = 'pending' AND c.not_before <= %(now)s)
           OR (c.status = 'running' AND c.lease_expires_at <= %(now)s))
      AND (%(destinations)s::text[] IS NULL OR c.destination = ANY(%(destinations)s::text[]))
      AND (c.partition_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM commands AS e
            WHERE e.partition_key = c.partition_key AND e.id < c.id
              AND e.status IN ('pending', 'running')))
    ORDER BY c.priority DESC, c.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE commands
SET status = 'running',
    taken_over_from = CASE WHEN commands.status = 'running' THEN commands.worker END,
    worker = %(worker)s,
    token = commands.token + 1,
    attempts = commands.attempts + 1,
    lease_expires_at = %(lease_expires_at)s
FROM candidates
WHERE commands.id = candidates.id
RETURNING commands.*;

-- name: insert_attempt
INSERT INTO command_attempts (command_id, attempt, token, worker, outcome, error, finished_at)
VALUES (%(command_id)s, %(attempt)s, %(token)s, %(worker)s, %(outcome)s, %(error)s, %(now)s);

-- name: complete_command
UPDATE commands
SET status = 'done', result = %(result)s, finished_at = %(now)s, lease_expires_at = NULL
WHERE id = %(id)s AND token = %(token)s AND status = 'running' AND lease_expires_at > %(now)s;

-- name: retry_command
UPDATE commands
SET status = 'pending', not_before = %(not_before)s, worker = NULL, lease_expires_at = NULL
WHERE id = %(id)s AND token = %(token)s AND status = 'running' AND lease_expires_at > %(now)s;

-- name: dead_command
UPDATE commands
SET status = 'dead', dead_reason = %(reason)s, finished_at = %(now)s, lease_expires_at = NULL
WHERE id = %(id)s AND token = %(token)s AND status = 'running' AND lease_expires_at > %(now)s;

-- name: dead_command_unleased
UPDATE commands
SET status = 'dead', dead_reason = %(reason)s, finished_at = %(now)s, lease_expires_at = NULL,
    worker = NULL
WHERE id = %(id)s AND token = %(token)s;

-- name: extend_command
UPDATE commands
SET lease_expires_at = %(lease_expires_at)s
WHERE id = %(id)s AND token = %(token)s AND status = 'running' AND lease_expires_at > %(now)s;

-- name: release_command
UPDATE commands
SET status = 'pending', attempts = attempts - 1, worker = NULL, lease_expires_at = NULL
WHERE id = %(id)s AND token = %(token)s AND status = 'running' AND lease_expires_at > %(now)s;

-- name: get_command
SELECT * FROM commands WHERE id = %(id)s;

-- name: command_by_key
SELECT * FROM commands WHERE idempotency_key = %(idempotency_key)s;

-- name: attempts_of
SELECT * FROM command_attempts WHERE command_id = %(command_id)s ORDER BY id;

-- name: queue_depth
SELECT destination, count(*) AS depth FROM commands
WHERE status IN ('pending', 'running') GROUP BY destination;

-- name: dead_letter_counts
SELECT c.destination, count(*) AS dead FROM commands AS c
WHERE c.status = 'dead' AND NOT EXISTS (SELECT 1 FROM commands AS r WHERE r.replay_of = c.id)
GROUP BY c.destination;

-- name: purge_completed_attempts
DELETE FROM command_attempts WHERE command_id IN (
    SELECT id FROM commands WHERE status = 'done' AND finished_at < %(before)s
);

-- name: purge_completed
DELETE FROM commands WHERE status = 'done' AND finished_at < %(before)s;

-- name: purge_decoded_inbox
DELETE FROM inbox WHERE status = 'decoded' AND settled_at < %(before)s;

-- name: list_dead
SELECT * FROM commands AS c
WHERE c.status = 'dead'
  AND (%(destination)s::text IS NULL OR c.destination = %(destination)s)
  AND (%(include_replayed)s::boolean OR NOT EXISTS (SELECT 1 FROM commands AS r WHERE r.replay_of = c.id))
ORDER BY c.id
LIMIT %(limit)s;

-- name: get_dead
SELECT * FROM commands WHERE id = %(id)s AND status = 'dead';

-- name: replays_of
SELECT id FROM commands WHERE replay_of = %(id)s ORDER BY id;

-- name: insert_audit
INSERT INTO audit_log (at, actor, action, command_id, new_command_id, detail)
VALUES (%(now)s, %(actor)s, %(action)s, %(command_id)s, %(new_command_id)s, %(detail)s);

-- name: audit_of
SELECT * FROM audit_log WHERE command_id = %(command_id)s OR new_command_id = %(command_id)s
ORDER BY id;

-- name: insert_link
INSERT INTO links (canonical_id, system, external_id, created_at)
VALUES (%(canonical_id)s, %(system)s, %(external_id)s, %(now)s)
ON CONFLICT DO NOTHING;

-- name: link_by_canonical
SELECT * FROM links WHERE canonical_id = %(canonical_id)s AND system = %(system)s;

-- name: link_by_external
SELECT * FROM links WHERE system = %(system)s AND external_id = %(external_id)s;

-- name: links_of
SELECT * FROM links WHERE canonical_id = %(canonical_id)s ORDER BY system;

-- name: get_flow_state
SELECT * FROM flow_state WHERE flow = %(flow)s AND key = %(key)s;

-- name: insert_flow_state
INSERT INTO flow_state (flow, key, state, version, updated_at)
VALUES (%(flow)s, %(key)s, %(state)s, 1, %(now)s)
ON CONFLICT (flow, key) DO NOTHING
RETURNING version;

-- name: update_flow_state
UPDATE flow_state SET state = %(state)s, version = version + 1, updated_at = %(now)s
WHERE flow = %(flow)s AND key = %(key)s AND version = %(expected_version)s
RETURNING version;

-- Group commit: the single-command enqueues and plain completions of many callers, each batch
-- in one statement. Rows are inserted in the callers' order (ids follow it).

-- name: insert_commands
INSERT INTO commands (
    idempotency_key, destination, kind, payload, partition_key, priority, max_attempts,
    correlation_id, enqueued_at, not_before
)
SELECT v.k, v.d, v.kd, v.p, v.pk, v.pr, v.ma, v.ci, %(now)s, v.nb
FROM unnest(
    %(keys)s::text[], %(destinations)s::text[], %(kinds)s::text[], %(payloads)s::text[],
    %(partition_keys)s::text[], %(priorities)s::int[], %(max_attempts)s::int[],
    %(correlation_ids)s::text[], %(not_befores)s::float8[]
) WITH ORDINALITY AS v (k, d, kd, p, pk, pr, ma, ci, nb, ord)
ORDER BY v.ord
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, idempotency_key;

-- name: command_ids_by_keys
SELECT id, idempotency_key FROM commands WHERE idempotency_key = ANY(%(keys)s::text[]);

-- name: complete_commands
UPDATE commands AS c
SET status = 'done', result = v.result, finished_at = %(now)s, lease_expires_at = NULL
FROM unnest(%(ids)s::bigint[], %(tokens)s::bigint[], %(results)s::text[]) AS v (id, token, result)
WHERE c.id = v.id AND c.token = v.token AND c.status = 'running'
  AND c.lease_expires_at > %(now)s
RETURNING c.id;

-- name: insert_inbox_batch
INSERT INTO inbox (source, dedupe_key, headers, body, correlation_id, received_at)
SELECT v.s, v.k, v.h, v.b, v.c, %(now)s
FROM unnest(
    %(sources)s::text[], %(dedupe_keys)s::text[], %(headers)s::text[], %(bodies)s::bytea[],
    %(correlation_ids)s::text[]
) WITH ORDINALITY AS v (s, k, h, b, c, ord)
ORDER BY v.ord
ON CONFLICT (source, dedupe_key) DO NOTHING
RETURNING id, source, dedupe_key;

-- name: inbox_ids_by_keys
SELECT i.id, i.source, i.dedupe_key
FROM inbox AS i
JOIN unnest(%(sources)s::text[], %(dedupe_keys)s::text[]) AS v (s, k)
  ON i.source = v.s AND i.dedupe_key = v.k;

-- name: claim_commands_for
-- The claims of several workers in one statement: row n goes to the n-th entry of workers.
WITH candidates AS (
    SELECT c.id, c.priority FROM commands AS c
    WHERE c.status IN ('pending', 'running')
      AND ((c.status = 'pending' AND c.not_before <= %(now)s)
           OR (c.status = 'running' AND c.lease_expires_at <= %(now)s))
      AND (%(destinations)s::text[] IS NULL OR c.destination = ANY(%(destinations)s::text[]))
      AND (c.partition_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM commands AS e
            WHERE e.partition_key = c.partition_key AND e.id < c.id
              AND e.status IN ('pending', 'running')))
    ORDER BY c.priority DESC, c.id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
numbered AS (
    SELECT id, row_number() OVER (ORDER BY priority DESC, id) AS slot FROM candidates
)
UPDATE commands
SET status = 'running',
    taken_over_from = CASE WHEN commands.status = 'running' THEN commands.worker END,
    worker = (%(workers)s::text[])[numbered.slot],
    token = commands.token + 1,
    attempts = commands.attempts + 1,
    lease_expires_at = %(lease_expires_at)s
FROM numbered
WHERE commands.id = numbered.id
RETURNING commands.*, numbered.slot;

-- name: inbox_counts
SELECT source,
       CASE WHEN status = 'received' AND lease_expires_at > %(now)s THEN 'claimed'
            ELSE status END AS state,
       count(*) AS n
FROM inbox
GROUP BY 1, 2;

-- name: get_breaker
SELECT * FROM breaker_state WHERE destination = %(destination)s;

-- name: insert_breaker
INSERT INTO breaker_state (
    destination, state, consecutive_failures, window_start, window_calls, window_failures,
    opened_at, probe_id, probe_until, version, updated_at
) VALUES (
    %(destination)s, %(state)s, %(consecutive_failures)s, %(window_start)s, %(window_calls)s,
    %(window_failures)s, %(opened_at)s, %(probe_id)s, %(probe_until)s, %(version)s, %(now)s
)
ON CONFLICT (destination) DO NOTHING;

-- name: update_breaker
UPDATE breaker_state
SET state = %(state)s, consecutive_failures = %(consecutive_failures)s,
    window_start = %(window_start)s, window_calls = %(window_calls)s,
    window_failures = %(window_failures)s, opened_at = %(opened_at)s, probe_id = %(probe_id)s,
    probe_until = %(probe_until)s, version = %(version)s, updated_at = %(now)s
WHERE destination = %(destination)s AND version = %(expected)s;

-- name: list_breakers
SELECT * FROM breaker_state ORDER BY destination;
