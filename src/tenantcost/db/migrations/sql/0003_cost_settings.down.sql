-- Settings, audit trail and price books are data: kept unless --drop-data.
SELECT 1;
