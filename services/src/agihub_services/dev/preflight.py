"""Checks made before anything starts, so a bad setting costs one clear line and no orphan process."""

from __future__ import annotations

import errno
import socket

from agihub.errors import ConfigError
from agihub_services.db.engine import check_reachable
from agihub_services.dev.settings import DevSettings


def check_port_free(host: str, port: int, setting: str) -> None:
    """Raise ConfigError naming the setting when ``host:port`` cannot be bound."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Servers bind with SO_REUSEADDR, so a port left in TIME_WAIT by a stopped run is free for them too.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use: stop what uses it or set {setting} to a free port"
            ) from None
        raise ConfigError(f"cannot bind {host}:{port} ({exc.strerror}); check {setting}") from None
    finally:
        sock.close()


def check_broker(url: str, timeout: float = 5.0) -> None:
    """Connect to a networked broker once; the filesystem transport needs no server."""
    if url.startswith("filesystem"):
        return
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot reach broker {_redact(url)}: {reason}; check AGIHUB_BROKER_URL") from None


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def check_evm_node(settings: DevSettings) -> None:
    cli = settings.evm_node_dir / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
    if not cli.is_file():
        raise ConfigError(
            f"the local EVM node is not installed in {settings.evm_node_dir}: run `make install` "
            "(or set AGIHUB_DEV_EVM_NODE_DIR)"
        )


def run_all(settings: DevSettings) -> None:
    """Every preflight check, cheapest first."""
    check_evm_node(settings)
    check_port_free(settings.host, settings.chain_port, "AGIHUB_DEV_CHAIN_PORT")
    check_port_free(settings.host, settings.api_port, "AGIHUB_DEV_API_PORT")
    for port in settings.relay_ports():
        check_port_free(settings.host, port, "AGIHUB_DEV_RELAY_BASE_PORT")
    check_reachable(settings.effective_database_url)
    check_broker(settings.effective_broker_url)
