"""People read waiting times, not seconds: the outbox banner's wording."""

from __future__ import annotations

import pytest

from tenantcost.web.labels import age_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "-"),
        (-3, "0 s"),
        (45.9, "45 s"),
        (119, "119 s"),
        (120, "2 min"),
        (2 * 3600 - 1, "119 min"),
        (2 * 3600, "2 h"),
        (3 * 3600 + 300, "3 h"),
        (2 * 86400, "2 days"),
    ],
)
def test_age_words(seconds: float | None, words: str) -> None:
    assert age_words(seconds) == words
