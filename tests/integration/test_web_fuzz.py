"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis):
valid and invalid parameters alike must never make the server answer 5xx.

Bounded for CI: a fixed number of examples per operation and mode, derandomized (the same
cases every run), against one real server on 127.0.0.1.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tenantcost.web.app import create_app
from tests.e2e.webfleet import Fleet

pytestmark = pytest.mark.db

EXAMPLES = 12  # per operation and generation mode
TIME_BUDGET = 240.0  # seconds for the whole run, a guard against a hanging server

SPEC = create_app("postgresql://unused@127.0.0.1:1/none").openapi()
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _has_inputs(operation: Any) -> bool:
    spec = SPEC["paths"][operation.path][operation.method.lower()]
    return bool(spec.get("parameters") or spec.get("requestBody"))


# Invalid inputs can only be generated for operations that take some.
CASES = [
    pytest.param(op, mode, id=f"{op.label} {mode.value}")
    for op in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or _has_inputs(op)
]


def test_every_api_operation_is_fuzzed() -> None:
    labels = {op.label for op in OPERATIONS}
    assert "GET /api/v1/whatif" in labels and "POST /api/v1/settings/{key}" in labels
    assert len(OPERATIONS) == len([m for p in SPEC["paths"].values() for m in p])


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_the_api_never_answers_5xx(
    fleet: Fleet, base: str, operation: Any, mode: GenerationMode
) -> None:
    # a dba token reaches every operation, the settings change included
    auth = {"Authorization": f"Bearer {fleet.tokens['dee']}"}
    started = time.monotonic()
    seen: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        assert time.monotonic() - started < TIME_BUDGET
        kwargs = case.as_transport_kwargs(base_url=base, headers=auth)
        with httpx.Client(timeout=30) as c:
            response = c.request(**_httpx_kwargs(kwargs))
        seen.append(response.status_code)
        assert response.status_code < 500, (case.path, case.query, response.text[:300])

    check()
    assert seen  # the operation was really called


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """schemathesis' transport arguments (requests-style) as httpx.request arguments."""
    out: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params"),
    }
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        out["content" if isinstance(data, (bytes, str)) else "data"] = data
    return out
