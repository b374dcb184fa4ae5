-- 0027 (drop data): nothing beyond the down script (keys only).
SELECT 1;
