"""Helpers for the loopback servers and subprocesses the integration tests run."""

from __future__ import annotations

import queue
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import BaseServer
from typing import TypeVar

S = TypeVar("S", bound=BaseServer)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve on a daemon thread until the block ends, then shut down and close."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def stderr_lines(process: subprocess.Popen[str]) -> Iterator[queue.Queue[str]]:
    """The process's stderr, line by line, read on a thread; killed if still running after."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stream = process.stderr
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)  # EOF once the process is gone
        stream.close()
