"""``agihub relay run``: serve the relay node (Nostr relay, blob store, chunk streaming) with uvicorn."""

from __future__ import annotations

import typer

from agihub_services.config import apply_env_file, load_settings
from agihub_services.relay.settings import RelaySettings

# uvicorn refuses websocket frames above this many bytes before they reach the handler; it is set
# above max_message_length (UTF-8 text can be up to 4 bytes per character in flight, and the handler
# answers an oversized message with a NOTICE rather than a dropped connection).
FRAME_SLACK = 4


def uvicorn_options(settings: RelaySettings) -> dict[str, object]:
    """Server options the relay needs (shared by the CLI and the tests that serve it for real)."""
    return {
        "log_level": "info",
        "ws_max_size": settings.max_message_length * FRAME_SLACK,
        # permessage-deflate costs a zlib pass per frame on both ends; Nostr frames are small and
        # blob chunks are already compressed or random, so it slows the relay down for nothing.
        "ws_per_message_deflate": False,
    }


def register(app: typer.Typer) -> None:
    """Add the ``relay`` command group to the agihub CLI."""
    relay_app = typer.Typer(help="The relay node: Nostr relay + Blossom blob store.", no_args_is_help=True)

    @relay_app.command("run")
    def run(
        host: str = typer.Option(None, help="bind address (AGIHUB_RELAY_HOST)"),
        port: int = typer.Option(None, help="port (AGIHUB_RELAY_PORT)"),
    ) -> None:
        """Serve the relay; its database is migrated on start."""
        import uvicorn

        from agihub_services.relay.app import create_app

        apply_env_file()
        overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        settings = load_settings(RelaySettings, **overrides)
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **uvicorn_options(settings))

    from agihub_services.relay.agent_cli import register_commands

    register_commands(relay_app)
    app.add_typer(relay_app, name="relay")
