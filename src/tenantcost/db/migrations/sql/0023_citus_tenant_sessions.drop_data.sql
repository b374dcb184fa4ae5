-- 0023 (drop data): nothing beyond the down script (no data of its own).
SELECT 1;
