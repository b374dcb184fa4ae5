-- 0024 (drop data): nothing beyond the down script (a function only).
SELECT 1;
