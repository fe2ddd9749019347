-- Dead-letter replays are linked to their original, and operator actions are audited.

ALTER TABLE commands ADD COLUMN replay_of INTEGER;
CREATE INDEX commands_replay_of ON commands (replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             REAL    NOT NULL,
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    command_id     INTEGER NOT NULL,
    new_command_id INTEGER,
    detail         TEXT    NOT NULL
);
CREATE INDEX audit_log_command ON audit_log (command_id, id);
CREATE INDEX audit_log_new_command ON audit_log (new_command_id, id);
