"""``waihu serve``: the HTTP API under uvicorn, on the settings' database (SQLite by default), migrated at start."""

from __future__ import annotations

import click

from waihu.cli import get_settings


@click.command("serve", help="Start the HTTP API (OpenAPI docs at /docs).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
def serve(host: str, port: int) -> None:
    import uvicorn

    from api.app import create_app
    from api.housekeeping import INTERVAL

    settings = get_settings()
    app = create_app(
        settings, run_migrations=True, webhook_interval=5.0, restore_campaigns=True, housekeeping_interval=INTERVAL
    )
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=False)
