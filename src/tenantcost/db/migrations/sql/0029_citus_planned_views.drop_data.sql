-- 0029 (drop data): nothing beyond the down script (a view only).
SELECT 1;
