"""The Citus planner on hand-built catalog facts: placement order, idempotency, blockers."""

from __future__ import annotations

import re

from tenantcost.db.citus import Facts, ForeignKey, Placement, plan
from tenantcost.db.migrations import statements


def facts(**extra: object) -> Facts:
    base = Facts(
        columns={
            "companies": {"id": False, "name": False},
            "plans": {"id": False},
            "tier_state": {"tenant_id": False, "tier": False},
            "outbox": {"id": False},
        },
        unique_keys=[
            ("companies", "companies_pkey", ("id",)),
            ("tier_state", "tier_state_pkey", ("tenant_id",)),
        ],
        foreign_keys=[
            ForeignKey(
                "tier_state",
                "tier_state_tenant",
                "companies",
                ("tenant_id",),
                ("id",),
                "FOREIGN KEY (tenant_id) REFERENCES companies(id)",
            )
        ],
    )
    for key, value in extra.items():
        setattr(base, key, value)
    return base


def test_anchor_first_then_colocated_then_reference_keys_dropped_and_restored() -> None:
    result = plan(facts())
    assert result.blockers == []
    assert result.statements == [
        "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'",
        'ALTER TABLE "tier_state" DROP CONSTRAINT "tier_state_tenant"',
        "SELECT create_distributed_table('companies', 'id')",
        "SELECT create_distributed_table('tier_state', 'tenant_id', colocate_with => 'companies')",
        "SELECT create_reference_table('plans')",
        'ALTER TABLE "tier_state" ADD CONSTRAINT "tier_state_tenant" '
        "FOREIGN KEY (tenant_id) REFERENCES companies(id)",
    ]
    assert Placement("outbox", "local") in result.placements


def test_tables_already_placed_are_skipped() -> None:
    placed = {
        "companies": Placement("companies", "distributed", "id"),
        "tier_state": Placement("tier_state", "distributed", "tenant_id"),
    }
    assert plan(facts(placed=placed)).statements == [
        "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'",
        "SELECT create_reference_table('plans')",
    ]
    placed["plans"] = Placement("plans", "reference")
    assert plan(facts(placed=placed)).statements == []


def test_each_blocker_names_its_table() -> None:
    columns = facts().columns | {
        "payments": {"id": False, "amount": False},
        "tenant_usage_hourly": {"tenant_id": True},  # nullable, no NULL row yet
    }
    result = plan(
        facts(
            columns=columns,
            null_tenant_rows={"tier_state"},
            unique_keys=[("tier_state", "tier_state_name", ("tier",))],
            subquery_policies=[("companies", "tenant_isolation")],
            triggers=[("plans", "trg_audit")],
            sql_body_functions=[("tenantcost_figures", "tier_state")],
            placed={"plans": Placement("plans", "distributed", "id")},
        )
    )
    found = sorted((b.table, b.problem.split(" ")[0]) for b in result.blockers)
    assert found == [
        ("companies", "row-level"),
        ("payments", "has"),  # no tenant_id: the application must carry it
        ("plans", "already"),  # distributed by hand where a reference table belongs
        ("plans", "trigger"),  # triggers are not supported on reference tables
        ("tenant_usage_hourly", "tenant_id"),  # allows NULL: the next idle line fails
        ("tier_state", "has"),  # rows without a tenant
        ("tier_state", "the"),  # a BEGIN ATOMIC function depends on it
        ("tier_state", "unique"),  # a unique key without tenant_id
    ]
    payments = next(b for b in result.blockers if b.table == "payments")
    assert "the application must carry tenant_id" in payments.fix


def test_staleness_triggers_are_dropped_by_the_plan_not_blockers() -> None:
    """tenantcost_cost_input_change only counts changes for the "stale" indicator (on Citus
    the figures are recomputed every pass instead) and the cost audit triggers are replaced by
    tenantcost's own audit rows: the plan drops them from the tables it places."""
    triggers = [
        ("plans", "tenantcost_cost_input_change"),
        ("companies", "tenantcost_cost_input_change"),
        ("outbox", "tenantcost_cost_input_change"),  # stays local: kept
        ("plans", "trg_audit"),
        ("plans", "trg_cost_settings_audit"),  # the audit: tenantcost's commands write it
    ]
    result = plan(facts(triggers=triggers))
    assert [(b.table, b.problem) for b in result.blockers] == [("plans", "trigger trg_audit")]
    assert result.statements[:4] == [
        "SET LOCAL citus.multi_shard_modify_mode TO 'sequential'",
        'DROP TRIGGER "tenantcost_cost_input_change" ON "plans"',
        'DROP TRIGGER "tenantcost_cost_input_change" ON "companies"',
        'DROP TRIGGER "trg_cost_settings_audit" ON "plans"',
    ]
    assert 'ON "outbox"' not in " ".join(result.statements)


def test_foreign_keys_must_carry_the_tenant_or_point_at_a_reference_table() -> None:
    columns = facts().columns | {"subscriptions": {"id": False, "tenant_id": False}}
    keys = [
        ForeignKey("tier_state", "by_sub", "subscriptions", ("sub",), ("id",), "…"),
        ForeignKey(
            "tier_state", "ok", "subscriptions", ("tenant_id", "sub"), ("tenant_id", "id"), "…"
        ),
        ForeignKey("tier_state", "to_local", "outbox", ("x",), ("id",), "…"),
        ForeignKey("plans", "to_dist", "companies", ("owner",), ("id",), "…"),
        ForeignKey("tier_state", "to_ref", "plans", ("plan",), ("id",), "…"),
    ]
    result = plan(facts(columns=columns, unique_keys=[], foreign_keys=keys))
    named = sorted(b.problem.split(" ")[2] for b in result.blockers if "foreign key" in b.problem)
    assert named == ["by_sub", "to_dist", "to_local"]


def test_migration_files_split_into_whole_statements() -> None:
    sql = """-- a comment only
CREATE TABLE a (x int);  -- trailing
DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;
COMMENT ON TABLE a IS 'one; two';
"""
    assert statements(sql) == [
        "-- a comment only\nCREATE TABLE a (x int);  -- trailing",  # one command, its comments
        "DO $$ BEGIN PERFORM 1; PERFORM 2; END $$",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END",
        "COMMENT ON TABLE a IS 'one; two'",
    ]


def test_tenantcosts_tables_without_a_tenant_key_become_reference_tables_and_forms_change() -> None:
    """tenant_mapping (one object, one tenant) is a reference table: its key to companies is
    dropped and not added back (Citus refuses a reference table's key to a distributed one;
    `db verify` counts the orphans). The IP pricing trigger gives way to its column default,
    the application's subquery policy to its own column, and a view over a function returning
    a placed table's rows is dropped before and created again after, with its grants."""
    from tenantcost.db.citus import DependentView

    columns = facts().columns | {
        "tenant_mapping": {"id": False, "tenant_id": False, "kind": False},
        "smtp_ip_addresses": {"id": False, "vps_instance_id": True, "tenant_id": True},
        "payments": {"id": False, "tenant_id": False},
    }
    mapping_key = ForeignKey(
        "tenant_mapping", "tenant_mapping_tenant_id_fkey", "companies", ("tenant_id",), ("id",),
        "FOREIGN KEY (tenant_id) REFERENCES companies(id) ON DELETE CASCADE",
    )  # fmt: skip
    view = DependentView(
        "summary", "tier_state", 1, " SELECT 1 AS one;", ("security_invoker=true",), "Its 'note'",
        ("SELECT TO business_analysts",),
    )  # fmt: skip
    result = plan(
        facts(
            columns=columns,
            unique_keys=[("tenant_mapping", "tenant_mapping_pkey", ("id",))],
            foreign_keys=[mapping_key],
            triggers=[("smtp_ip_addresses", "trg_smtp_ip_default_cost")],
            subquery_policies=[
                ("payments", "tenant_isolation"),
                ("smtp_ip_addresses", "tenant_isolation"),
            ],
            rowtype_views=[view],
        )
    )
    assert result.blockers == []
    assert Placement("tenant_mapping", "reference") in result.placements
    sql = result.statements
    assert 'ALTER TABLE "tenant_mapping" DROP CONSTRAINT "tenant_mapping_tenant_id_fkey"' in sql
    assert not [s for s in sql if "ADD CONSTRAINT" in s and "tenant_mapping" in s]
    assert 'DROP TRIGGER "trg_smtp_ip_default_cost" ON "smtp_ip_addresses"' in sql
    default = next(s for s in sql if "SET DEFAULT tenantcost_smtp_ip_monthly_cost()" in s)
    assert sql.index(default) < sql.index("SELECT create_reference_table('smtp_ip_addresses')")
    assert (
        'CREATE POLICY "tenant_isolation" ON "payments" FOR ALL TO application_service'
        " USING (tenant_id = tenantcost_current_tenant())"
        " WITH CHECK (tenant_id = tenantcost_current_tenant())" in sql
    )
    ip_policy = next(s for s in sql if s.startswith('CREATE POLICY "tenant_isolation" ON "smtp'))
    assert "tenantcost_vps_tenant(vps_instance_id)" in ip_policy
    assert any("CREATE OR REPLACE FUNCTION tenantcost_vps_tenant" in s for s in sql)
    drop, create = (
        sql.index('DROP VIEW "summary"'),
        sql.index('CREATE VIEW "summary" WITH (security_invoker=true) AS\nSELECT 1 AS one'),
    )
    assert drop < sql.index(
        "SELECT create_distributed_table('tier_state', 'tenant_id', colocate_with => 'companies')"
    ) < create  # fmt: skip
    assert sql[create + 1 :] == [
        "COMMENT ON VIEW \"summary\" IS 'Its ''note'''",
        'GRANT SELECT ON "summary" TO business_analysts',
    ]


def test_the_payment_and_email_views_join_on_the_tenant_once_their_tables_are_placed() -> None:
    """Revision 0026 chose its views' join while the application's tables were local (by
    subscription id only: Citus would repartition both tables for every read); placing
    payments and billing_analytics by tenant_id beside subscriptions makes them again, joined
    on the tenant too, after the tables are distributed."""
    columns = {
        "companies": {"id": False},
        "subscriptions": {"id": False, "tenant_id": False},
        "payments": {"id": False, "tenant_id": False, "subscription_id": False},
        "billing_analytics": {"id": False, "tenant_id": False, "subscription_id": False},
    }
    keys = [
        (table, f"{table}_pkey", ("tenant_id", "id"))
        for table in ("subscriptions", "payments", "billing_analytics")
    ]
    statements = plan(facts(columns=columns, unique_keys=keys, foreign_keys=[])).statements
    views = [s for s in statements if "CREATE OR REPLACE VIEW" in s]
    assert [re.findall(r"CREATE OR REPLACE VIEW (\w+)", v)[0] for v in views] == [
        "tenantcost_tenant_payments",
        "tenantcost_tenant_emails",
    ]
    assert "s.id = py.subscription_id AND s.tenant_id = py.tenant_id" in views[0]
    assert "s.id = ba.subscription_id AND s.tenant_id = ba.tenant_id" in views[1]
    last_table = max(i for i, s in enumerate(statements) if "create_distributed_table" in s)
    assert statements.index(views[0]) > last_table
    # placed already: nothing to make again
    placed = {
        table: Placement(table, "distributed", "id" if table == "companies" else "tenant_id")
        for table in columns
    }
    assert (
        plan(facts(columns=columns, unique_keys=keys, foreign_keys=[], placed=placed)).statements
        == []
    )
