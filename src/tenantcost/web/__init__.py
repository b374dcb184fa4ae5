"""The internal dashboard: FastAPI + Jinja2 pages, JSON API, /metrics, and the jobs schedule.

``create_app(database_url)`` builds the application; ``serve_forever(url, host, port, banner)``
runs it in the foreground (what ``tenantcost serve`` and the main job call).
"""

from __future__ import annotations

from tenantcost.web.app import create_app
from tenantcost.web.serve import serve_forever

__all__ = ["create_app", "serve_forever"]
