DROP TABLE IF EXISTS posthog_export_state;
