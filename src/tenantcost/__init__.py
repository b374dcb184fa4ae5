"""tenantcost: what every tenant really costs, what it earns, and what to do about it."""

from __future__ import annotations

__version__ = "0.1.0"
