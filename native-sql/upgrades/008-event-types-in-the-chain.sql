-- 008-event-types-in-the-chain: the taxonomy becomes ledger state (schema/5-event-types.sql).
--
-- Up to schema 7 each writer replaced `event_types` with the set it was opened with, outside the
-- chain. Nothing in the chain says which set held, so an upgraded file starts with none (any
-- type); the next writer opened with `eventTypes` records its set as the first '$types' event.
-- The triggers and views of schema/ then replace those of schema 7.
DELETE FROM event_types;
