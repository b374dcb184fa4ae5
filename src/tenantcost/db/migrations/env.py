"""Alembic environment: one transaction per revision, our own version table."""

from __future__ import annotations

from alembic import context

from tenantcost.db.migrations import VERSION_TABLE

config = context.config
url: str = config.attributes["url"]


def run_offline() -> None:
    context.configure(
        url=url,
        literal_binds=True,
        dialect_name="postgresql",
        # named paramstyle: no %-escaping, so the printed SQL is exactly what a DBA runs
        dialect_opts={"paramstyle": "named"},
        version_table=VERSION_TABLE,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    from tenantcost.db.migrate import engine_for

    engine = engine_for(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            version_table=VERSION_TABLE,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
