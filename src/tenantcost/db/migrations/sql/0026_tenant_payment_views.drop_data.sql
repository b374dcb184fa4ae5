-- 0026 (drop data): nothing beyond the down script (views only).
SELECT 1;
