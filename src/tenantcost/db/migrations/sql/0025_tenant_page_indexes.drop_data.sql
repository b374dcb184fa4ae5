-- 0025 (drop data): nothing beyond the down script (indexes only).
SELECT 1;
