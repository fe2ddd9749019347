-- Commands without a partition key never need the partition index: leave them out of it,
-- so that enqueueing, claiming and completing them maintain one index fewer.

DROP INDEX commands_partition;
CREATE INDEX commands_partition ON commands (partition_key, id)
    WHERE status IN ('pending', 'running') AND partition_key IS NOT NULL;
