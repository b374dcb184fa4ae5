DROP TABLE IF EXISTS dashboard_snapshots;
DROP TABLE IF EXISTS dashboard_secret;
DROP TABLE IF EXISTS dashboard_sessions;
DROP TABLE IF EXISTS dashboard_users;
