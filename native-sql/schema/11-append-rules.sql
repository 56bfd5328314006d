-- Which rules an insert into events meets, and in what order (from schema 11): the one place
-- that states the precedence of their errors when a row breaks several (FORMAT.md "Append path
-- and triggers"). Each rule lives in the file of its concern; this trigger routes to them.
--
--   1. A row of Stele's own streams ('$...' but '$default', the stream of events that name
--      none, an ordinary one): the INSTEAD OF triggers of reserved_stream_event
--      (events.sql), which SQLite runs newest first: checkpoint_rules (checkpoints.sql),
--      independent_witness_rules (independent-witnesses.sql), promotion_rules (replication.sql),
--      reserved_stream_rules (reserved-streams.sql) and event_types_rules (event-types.sql).
--   2. Every row: the taxonomy (event-types.sql).
--   3. A row with a signature or an agent: signature_rules (keys.sql), on signed_event.
--   4. Every row: required signatures (keys.sql) and the halt (halt.sql).
--   5. Every row: the chain, events_insert_extends_chain (events.sql), created before this
--      trigger and so run after it.
--
-- Why a route and not a trigger per rule: SQLite starts a sub-program for every trigger an insert
-- fires, sized by the trigger's whole body, and evaluates each statement's subqueries even where
-- a cheap condition before them is false. Eight rule triggers on events measured 14 µs of an
-- ordinary append's 49 µs of SQL; behind an INSERT … SELECT … WHERE that selects no row, the
-- rules of the rare rows cost an ordinary row next to nothing.
CREATE TRIGGER events_insert_rules BEFORE INSERT ON events
BEGIN
  INSERT INTO reserved_stream_event (sequence, event_id, stream_id, type, payload, payload_meta, metadata,
                                     metadata_meta, agent_id, signature, local_timestamp, prev_hash)
  SELECT NEW.sequence, NEW.event_id, NEW.stream_id, NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata,
         NEW.metadata_meta, NEW.agent_id, NEW.signature, NEW.local_timestamp, NEW.prev_hash
   WHERE substr(NEW.stream_id, 1, 1) = '$' AND NEW.stream_id <> '$default';

  -- While the set of types is not empty, an event outside Stele's own streams has one of them.
  SELECT RAISE(ABORT, 'STELE:UNKNOWN_EVENT_TYPE')
   WHERE NEW.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
     AND EXISTS (SELECT 1 FROM event_types)
     AND NOT EXISTS (SELECT 1 FROM event_types WHERE type = NEW.type);

  INSERT INTO signed_event (sequence, event_id, stream_id, type, payload, payload_meta, metadata,
                            metadata_meta, agent_id, signature, local_timestamp, prev_hash)
  SELECT NEW.sequence, NEW.event_id, NEW.stream_id, NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata,
         NEW.metadata_meta, NEW.agent_id, NEW.signature, NEW.local_timestamp, NEW.prev_hash
   WHERE NEW.signature IS NOT NULL OR NEW.agent_id IS NOT NULL;

  -- Once require_signatures is set, an unsigned event outside Stele's own streams is refused,
  -- except on an unpromoted replica, which leaves that setting to its primary (replication.sql).
  SELECT RAISE(ABORT, 'STELE:SIGNATURE_REQUIRED')
   WHERE NEW.signature IS NULL AND NEW.agent_id IS NULL
     AND NEW.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
     AND EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')
     AND NOT EXISTS (SELECT 1 FROM replica_mode);

  -- A halted ledger refuses every append except to Stele's own streams (halt.sql).
  SELECT RAISE(ABORT, 'STELE:LEDGER_HALTED')
   WHERE NEW.stream_id NOT IN ('$halt', '$agents', '$replication', '$checkpoints')
     AND (SELECT type FROM newest_halt) IS 'stele.halted';
END;
