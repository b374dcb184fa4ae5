"""The internal dashboard: FastAPI + Jinja2 pages, JSON API, /metrics, and the jobs schedule.

``create_app(database_url)`` builds the application; ``serve_forever(url, host, port, banner)``
runs it in the foreground (what ``tenantcost serve`` and the main job call). Both load on
first use, so importing a light module of this package (users, render) never loads FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "serve_forever"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from tenantcost.web.app import create_app

        return create_app
    if name == "serve_forever":
        from tenantcost.web.serve import serve_forever

        return serve_forever
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
