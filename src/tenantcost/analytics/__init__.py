"""Analytics export (issue 17): tenantcost's own figures and signals as PostHog events.

``export.py`` reads the cost model and the tier tables and queues PostHog messages in the
outbox (sink ``posthog``, one row per stable key); ``sink.py`` delivers them with the official
``posthog`` client; ``events.py`` builds the messages (pure); ``cli.py`` is
``tenantcost export posthog``.
"""
