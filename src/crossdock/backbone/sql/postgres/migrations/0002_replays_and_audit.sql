-- Dead-letter replays are linked to their original, and operator actions are audited.

ALTER TABLE commands ADD COLUMN replay_of BIGINT;
CREATE INDEX commands_replay_of ON commands (replay_of) WHERE replay_of IS NOT NULL;

CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             DOUBLE PRECISION NOT NULL,
    actor          TEXT             NOT NULL,
    action         TEXT             NOT NULL,
    command_id     BIGINT           NOT NULL,
    new_command_id BIGINT,
    detail         TEXT             NOT NULL
);
CREATE INDEX audit_log_command ON audit_log (command_id, id);
CREATE INDEX audit_log_new_command ON audit_log (new_command_id, id);
