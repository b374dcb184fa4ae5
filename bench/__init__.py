"""Benchmarks: speed goals live here, not in timed tests (`python -m bench --help`)."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on, for its JSON results."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
