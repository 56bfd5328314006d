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
-- The rules of steps 2 and 4 look anything up only where append_state (below) says they may
-- refuse.
--
-- Why a route and not a trigger per rule: SQLite starts a sub-program for every trigger an insert
-- fires, sized by the trigger's whole body, and evaluates the subqueries of a statement's WHERE
-- even where a cheap term before them is false. The eight rule triggers of schema 10 measured a
-- third of an ordinary append's SQL; behind an INSERT … SELECT … WHERE that selects no row, the
-- rules of the rare rows cost an ordinary row next to nothing.

-- What the rules of every row need to know, kept in one row so that an ordinary append reads it
-- instead of three lookups (measured: a quarter of the SQL of an ordinary append): whether the
-- ledger is halted, whether the taxonomy holds any type, whether signatures are required. It is
-- derived state, like event_types: the triggers that change what it describes keep it
-- (events_apply_halt in halt.sql, events_apply_event_types in event-types.sql,
-- ledger_meta_apply_require_signatures in keys.sql), and it guards itself: a row that is not
-- append_state_derived is refused, from every connection. A flag is a licence to skip a
-- lookup, never a verdict: where it is 1 the rule looks up the truth, and a file without the row
-- is checked in full. The schema creates it empty; Stele fills it when it creates or upgrades a
-- file (lib/sqlite/migrations.ts).
CREATE TABLE append_state (
  id                  INTEGER PRIMARY KEY CHECK (id = 1),
  halted              INTEGER NOT NULL,           -- 1 while the newest '$halt' event is a 'stele.halted'
  typed               INTEGER NOT NULL,           -- 1 while event_types holds a type
  signatures_required INTEGER NOT NULL            -- 1 once ledger_meta holds require_signatures
) STRICT;

-- What append_state must hold, from the tables it describes.
CREATE VIEW append_state_derived AS
SELECT coalesce((SELECT type FROM newest_halt) IS 'stele.halted', 0) AS halted,
       EXISTS (SELECT 1 FROM event_types) AS typed,
       EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures') AS signatures_required;

CREATE TRIGGER append_state_only_derived BEFORE INSERT ON append_state
WHEN EXISTS (SELECT 1 FROM append_state)
  OR NOT EXISTS (SELECT 1 FROM append_state_derived AS d
                  WHERE d.halted IS NEW.halted AND d.typed IS NEW.typed AND d.signatures_required IS NEW.signatures_required)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:append_state');
END;

CREATE TRIGGER append_state_update_only_derived BEFORE UPDATE ON append_state
WHEN NEW.id IS NOT OLD.id
  OR NOT EXISTS (SELECT 1 FROM append_state_derived AS d
                  WHERE d.halted IS NEW.halted AND d.typed IS NEW.typed AND d.signatures_required IS NEW.signatures_required)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:append_state');
END;

CREATE TRIGGER append_state_no_delete BEFORE DELETE ON append_state
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;

CREATE TRIGGER events_insert_rules BEFORE INSERT ON events
BEGIN
  INSERT INTO reserved_stream_event (sequence, event_id, stream_id, type, payload, payload_meta, metadata,
                                     metadata_meta, agent_id, signature, local_timestamp, prev_hash)
  SELECT NEW.sequence, NEW.event_id, NEW.stream_id, NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata,
         NEW.metadata_meta, NEW.agent_id, NEW.signature, NEW.local_timestamp, NEW.prev_hash
   WHERE substr(NEW.stream_id, 1, 1) = '$' AND NEW.stream_id <> '$default';

  -- While the set of types is not empty, an event outside Stele's own streams has one of them.
  -- (A CASE over a join, not a WHERE: SQLite evaluates the EXISTS of a WHERE before its other
  -- terms, so only here does a 0 flag spare the lookups.)
  SELECT CASE
           WHEN s.typed IS NOT 0
            AND NEW.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
            AND EXISTS (SELECT 1 FROM event_types)
            AND NOT EXISTS (SELECT 1 FROM event_types WHERE type = NEW.type)
             THEN RAISE(ABORT, 'STELE:UNKNOWN_EVENT_TYPE')
         END
    FROM (SELECT 1) LEFT JOIN append_state AS s;

  INSERT INTO signed_event (sequence, event_id, stream_id, type, payload, payload_meta, metadata,
                            metadata_meta, agent_id, signature, local_timestamp, prev_hash)
  SELECT NEW.sequence, NEW.event_id, NEW.stream_id, NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata,
         NEW.metadata_meta, NEW.agent_id, NEW.signature, NEW.local_timestamp, NEW.prev_hash
   WHERE NEW.signature IS NOT NULL OR NEW.agent_id IS NOT NULL;

  -- Once require_signatures is set, an unsigned event outside Stele's own streams is refused,
  -- except on an unpromoted replica, which leaves that setting to its primary (replication.sql).
  -- A halted ledger refuses every append except to Stele's own streams (halt.sql).
  SELECT CASE
           WHEN s.signatures_required IS NOT 0
            AND NEW.signature IS NULL AND NEW.agent_id IS NULL
            AND NEW.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
            AND EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')
            AND NOT EXISTS (SELECT 1 FROM replica_mode)
             THEN RAISE(ABORT, 'STELE:SIGNATURE_REQUIRED')
           WHEN s.halted IS NOT 0
            AND NEW.stream_id NOT IN ('$halt', '$agents', '$replication', '$checkpoints')
            AND (SELECT type FROM newest_halt) IS 'stele.halted'
             THEN RAISE(ABORT, 'STELE:LEDGER_HALTED')
         END
    FROM (SELECT 1) LEFT JOIN append_state AS s;
END;
