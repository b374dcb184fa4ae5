-- Telemetry (drop_data): the usage history, collector state, invoices and cost ledger.
DROP TABLE IF EXISTS tenant_cost_totals;
DROP TABLE IF EXISTS tenant_cost_ledger;
DROP TABLE IF EXISTS host_invoices;
DROP TABLE IF EXISTS host_usage_hourly;
DROP TABLE IF EXISTS telemetry_app_events;
DROP TABLE IF EXISTS telemetry_runs;
DROP TABLE IF EXISTS telemetry_state;
DROP TABLE IF EXISTS telemetry_pgss_snapshot;
DROP TABLE IF EXISTS tenant_usage_hourly;
DROP TABLE IF EXISTS telemetry_metrics;
DROP TABLE IF EXISTS tenant_mapping;
