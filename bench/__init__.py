"""Benchmarks: speed goals live here, not in timed tests (`python -m bench --help`)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from typing import Any


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on, for its JSON results."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def wait_until_serving(base: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for a dashboard started as ``proc`` to answer ``/healthz`` on ``base``; raise
    when it exits first or does not answer within ``timeout`` seconds."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.2)
