DROP TABLE IF EXISTS report_deliveries;
DROP TABLE IF EXISTS report_runs;
DROP TABLE IF EXISTS report_schedule_state;
