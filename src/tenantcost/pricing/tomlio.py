"""Read TOML input files exactly (numbers as Decimal) and turn validation errors into one message.

Price books and scenario files are written by people; a mistake must come back as a single
``UserError`` naming the file and the exact key (``book.toml: rates.vcpu_per_second: must be
>= 0``), never a pydantic traceback.
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tenantcost.errors import UserError

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "required but missing",
    "extra_forbidden": "unknown key",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
}


_PLAIN_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")


class _OddNumber(ValueError):
    """A TOML float that is valid TOML but not a plain decimal (see ``strict_float``)."""


def strict_float(text: str) -> Decimal:
    """A TOML float as an exact Decimal, written plainly: ``0.000002156``.

    TOML also allows ``inf``, ``nan``, exponents (``1e-400``, which a JSON reader later
    turns into 0.0) and ``1_000.5``; none of them is how a price is written, so each is
    refused rather than silently changed.
    """
    if not _PLAIN_FLOAT.fullmatch(text):
        raise _OddNumber(text)
    return Decimal(text)


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML with floats as Decimal so ``0.000002156`` stays exactly that."""
    try:
        return tomllib.loads(text, parse_float=strict_float)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{source}: not valid TOML: {exc}", "fix the TOML syntax") from exc
    except _OddNumber as exc:
        raise UserError(
            f"{source}: the number {str(exc)[:40]!r} is not a plain decimal",
            "write numbers as plain digits with a decimal point, e.g. 0.000463 (no exponent, "
            "inf, nan or underscores)",
        ) from None


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; a missing or unreadable file is the user's to fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}", "check the path") from exc
    except UnicodeDecodeError:
        raise UserError(
            f"{path.name} is not a UTF-8 text file", "give a TOML file (see `--help`)"
        ) from None
    return parse_toml(text, path.name)


def describe_error(err: ErrorDetails) -> str:
    """``loc: message`` with the key path dotted and list positions shown as ``[i]``."""
    parts: list[str] = []
    for item in err["loc"]:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    template = _MESSAGES.get(err["type"])
    ctx = err.get("ctx") or {}
    message = template.format(**ctx) if template else err["msg"]
    if err["type"] == "value_error":
        message = str(ctx.get("error", message))
    return f"{''.join(parts) or '(top level)'}: {message}"


def validate_as(model: type[M], data: dict[str, Any], source: str, hint: str) -> M:
    """Validate ``data`` into ``model``; every problem is listed in one UserError."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(describe_error(err) for err in exc.errors())
        raise UserError(f"{source}: {problems}", hint) from exc
