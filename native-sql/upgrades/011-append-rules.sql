-- 011-append-rules: the rules of an insert into events routed by one trigger
-- (schema/11-append-rules.sql).
--
-- No table or row changes: the same rules hold for the same rows. The triggers and views of
-- schema/ then replace those of schema 10, which is how the route, its two views and their rule
-- triggers arrive.
SELECT 1;
