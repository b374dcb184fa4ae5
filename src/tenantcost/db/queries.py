"""Named SQL: a package's ``queries.sql`` holds ``-- name: <name>`` sections, loaded by name.

Keeps SQL as SQL (readable, greppable, reviewable) and out of Python strings.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split a file into {name: sql}; the header's following comment lines stay with the SQL.

    The closing semicolon is dropped, so a named query can also be used as a subquery.
    """
    parts = _HEADER.split(text)
    return {
        name: body.strip().rstrip(";").rstrip()
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


@cache
def queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    return parse_queries((files(package) / filename).read_text(encoding="utf-8"))
