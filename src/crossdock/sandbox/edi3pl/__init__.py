"""A simulated 3PL speaking EDI X12 over a drop folder or SFTP.

`Edi3plSimulator` reads 940s, acknowledges them with 997s, ships with 945s (complete, partial
and short) and advises its stock with 846s, all deterministic under a seed; `serve_sftp`
serves its mailbox over a real SFTP server on loopback.
"""

from __future__ import annotations

from crossdock.sandbox.edi3pl._documents import SCHEMA_940, Release, ReleaseLine, read_release
from crossdock.sandbox.edi3pl._sftp import RunningSftp, generate_key, serve_sftp
from crossdock.sandbox.edi3pl._simulator import DEFAULT_DATA, Edi3plSimulator, default_scenario

__all__ = [
    "DEFAULT_DATA",
    "SCHEMA_940",
    "Edi3plSimulator",
    "Release",
    "ReleaseLine",
    "RunningSftp",
    "default_scenario",
    "generate_key",
    "read_release",
    "serve_sftp",
]
