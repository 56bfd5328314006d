-- 011-append-rules: the rules of an insert into events routed by one trigger, and the derived
-- table append_state (schema/11-append-rules.sql).
--
-- No row of the tables a file of schema 10 has changes: the same rules hold for the same rows.
-- The triggers and views of schema/ then replace those of schema 10, and its missing table,
-- append_state, is created and filled from the file (lib/sqlite/migrations.ts).
SELECT 1;
