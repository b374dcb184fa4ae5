"""Issue 17's done-when: with the jobs running, a week of demo time puts the daily and weekly
executive reports in a local SMTP mailbox and the matching events in a local PostHog
receiver, once each — across a restart of the service. The clock is injected (no sleeping):
each job runner pass is one hour."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg.rows import dict_row

from tenantcost.analytics.cli import PosthogJob
from tenantcost.config import get_settings
from tenantcost.execreport.run import ScheduledReports
from tests.e2e.webfleet import ACME, BOLT, CIRRUS
from tests.integration.loopback import serving
from tests.integration.smtpd import Mailbox, smtp_env
from tests.integration.test_execreport import Clock, configure, fleet_url, mailbox  # noqa: F401
from tests.integration.test_posthog_export import KEY, NAMESPACE, PostHog

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture
def posthog() -> Iterator[PostHog]:
    with serving(PostHog()) as server:
        yield server


def run_hours(url: str, clock: Clock, hours: int) -> None:
    """A freshly started service (new runner, new pool) running its jobs once an hour, in the
    order `serve` runs them: reports, outbox drain, PostHog export."""
    from psycopg_pool import ConnectionPool

    from tenantcost.web.jobs import JobRunner, drain_outbox

    pool: ConnectionPool[Any] = ConnectionPool(
        url, min_size=1, max_size=1, kwargs={"autocommit": True, "row_factory": dict_row}
    )
    jobs = {
        "scheduled_reports": ScheduledReports(clock),
        "drain_outbox": drain_outbox,
        "posthog_export": PosthogJob(get_settings(), clock),
    }
    runner = JobRunner(pool, 3600, jobs)
    with pool:
        for _ in range(hours):
            runner.run_once()
            assert all(s.errors == 0 for s in runner.status.values()), runner.snapshot()
            clock.now += timedelta(hours=1)


def test_a_week_of_jobs_mails_each_report_and_sends_each_event_once(
    fleet_url: str,  # noqa: F811
    mailbox: Mailbox,  # noqa: F811
    posthog: PostHog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(
        monkeypatch,
        {
            **smtp_env(mailbox),
            "TENANTCOST_POSTHOG_HOST": posthog.url,
            "TENANTCOST_POSTHOG_API_KEY": KEY,
            "TENANTCOST_POSTHOG_TIMEOUT": "5",
        },
    )
    # Tuesday 2 December 2025 00:30 UTC to Tuesday 9 December 00:30: a week, restarted on
    # Friday 5 December 12:30 (a new runner; nothing carried over in memory).
    clock = Clock(datetime(2025, 12, 2, 0, 30, tzinfo=UTC))
    run_hours(fleet_url, clock, 3 * 24 + 12)
    run_hours(fleet_url, clock, 3 * 24 + 12)
    assert clock.now == datetime(2025, 12, 9, 0, 30, tzinfo=UTC)

    # Mail: the daily report at 06:00 of each day 2..8 December (each of the day before) and
    # Monday 8 December's weekly report of ISO week 49 — 8 messages, each once.
    subjects = Counter(str(m["Subject"]) for m in mailbox.messages)
    daily = {f"tenantcost executive report — daily 2025-12-0{d}" for d in range(1, 8)}
    assert set(subjects) == daily | {"tenantcost executive report — weekly 2025-W49"}
    assert set(subjects.values()) == {1}

    # PostHog: every event arrived once (the receiver dedupes on uuid as PostHog does and
    # keeps any repeat apart).
    assert posthog.repeats == []
    events = posthog.received()
    assert events
    # Each tenant's group properties once per UTC day the service ran: 2..8 December, the
    # three tenants of the fleet (Acme, Bolt, Cirrus).
    groups = [e for e in events if e["event"] == "$groupidentify"]
    seen = Counter((e["properties"]["$group_key"], e["timestamp"][:10]) for e in groups)
    days = [f"2025-12-0{d}" for d in range(2, 9)]
    tenants = {str(ACME), str(BOLT), str(CIRRUS)}
    assert set(seen) == {(t, d) for t in tenants for d in days}
    assert set(seen.values()) == {1}
    for event in groups:  # the stable key, written out: tenant_group:<day>:<tenant>
        key = f"tenant_group:{event['timestamp'][:10]}:{event['properties']['$group_key']}"
        assert event["uuid"] == str(uuid.uuid5(NAMESPACE, key))
    # A second run of the last hour (another restart) sends and mails nothing new.
    sent, mailed = len(events), len(mailbox.messages)
    clock.now -= timedelta(hours=1)
    run_hours(fleet_url, clock, 1)
    assert (len(posthog.received()), len(mailbox.messages), posthog.repeats) == (sent, mailed, [])
