"""A local certificate authority, made on first start and then reused, for HTTPS simulators."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"


def default_data_dir() -> Path:
    """Where the sandbox keeps its CA: ``$CROSSDOCK_SANDBOX_DIR``, else the XDG data directory."""
    explicit = os.environ.get("CROSSDOCK_SANDBOX_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "crossdock" / "sandbox"


@dataclass(frozen=True)
class LocalCA:
    """The files of the sandbox's certificate authority and of the loopback server certificate.

    Attributes:
        ca_cert: The CA certificate (PEM); clients trust this file.
        server_cert: The server certificate chain for ``127.0.0.1``, ``localhost`` and ``::1``.
        server_key: The server certificate's private key.
    """

    ca_cert: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def load_or_create(cls, data_dir: Path) -> LocalCA:
        """Reuse the CA under ``data_dir/tls`` or make one; (re)issue the loopback certificate."""
        trustme = _trustme()
        tls_dir = data_dir / "tls"
        tls_dir.mkdir(parents=True, exist_ok=True)
        ca_cert, ca_key = tls_dir / CA_CERT, tls_dir / CA_KEY
        if ca_cert.exists() and ca_key.exists():
            ca = trustme.CA.from_pem(ca_cert.read_bytes(), ca_key.read_bytes())
        else:
            ca = trustme.CA(organization_name="Crossdock sandbox")
            _write_private(ca_key, ca.private_key_pem.bytes())
            ca_cert.write_bytes(ca.cert_pem.bytes())
        leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
        server_cert, server_key = tls_dir / SERVER_CERT, tls_dir / SERVER_KEY
        server_cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        _write_private(server_key, leaf.private_key_pem.bytes())
        return cls(ca_cert, server_cert, server_key)

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for clients that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _trustme() -> Any:
    try:
        import trustme
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "HTTPS simulators need trustme: pip install 'crossdock[sandbox]'"
        ) from exc
    return trustme


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
