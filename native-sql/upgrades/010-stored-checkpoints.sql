-- 010-stored-checkpoints: the reserved stream '$checkpoints' (schema/10-checkpoints.sql).
--
-- No row changes: a file of schema 9 has no '$checkpoints' events, since its triggers refused
-- that stream. The triggers and views of schema/ then replace those of schema 9, which is how
-- the new stream, its rules and the exemptions of the other streams' rules arrive.
SELECT 1;
