"""The PostgreSQL store (psycopg 3, async pool, ``FOR UPDATE SKIP LOCKED``)."""

from crossdock.backbone.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
