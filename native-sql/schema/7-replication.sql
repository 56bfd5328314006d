-- Replica files, which receive a primary's rows verbatim, and the witnessed ceremony that
-- promotes a replica to a primary.
--
-- A replica is a Stele file like any other, with two more settings: `replica_id` (its identity)
-- and `replica_of` (the primary it copies, informational). Both can be written only while the
-- file holds no event, so a primary can never be turned into a replica after the fact. While a
-- file is a replica, rows reach it exactly as the primary stored them, through the same guards
-- as every append: the chain must extend, hashes recompute, signatures verify against the key
-- history the copied '$agents' events replay, halts hold. Two rules relax, because they state
-- what is true at the moment of the original append, which the primary already checked: the
-- authority timestamp is the primary's, not the replica's clock (events.sql), and
-- `require_signatures` (a setting, not history; its moment is not recorded) is left to the
-- primary (keys.sql).
--
-- A replica stops being one when its own promotion ceremony ('stele.replica_promoted' in the
-- reserved stream '$replication', naming its replica_id) is appended; from then on it is a
-- primary whose every rule applies. A copy of some other file's ceremony (the primary was once a
-- promoted replica itself) is history like any other row.
--
-- Functions registered by the writer (lib/sqlite/native-functions.ts):
--   stele_promotion_signature_valid(key, signature, replica_id, head_sequence, head_hash, reason)

-- One row while the file is an unpromoted replica; none otherwise.
CREATE VIEW replica_mode AS
SELECT m.value AS replica_id
  FROM ledger_meta AS m
 WHERE m.key = 'replica_id'
   AND NOT EXISTS (SELECT 1 FROM events AS e
                    WHERE e.stream_id = '$replication' AND e.type = 'stele.replica_promoted'
                      AND json_extract(e.payload, '$.replicaId') = m.value);

CREATE TRIGGER ledger_meta_replica_only_when_empty BEFORE INSERT ON ledger_meta
WHEN NEW.key IN ('replica_id', 'replica_of') AND EXISTS (SELECT 1 FROM events)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:ledger_meta');
END;

-- An unpromoted replica takes rows only as its primary stored them: the append view, which would
-- write new history, refuses all but the promotion ceremony, from every connection. (On a
-- primary the lookup is one seek of ledger_meta's primary key.)
CREATE TRIGGER append_event_not_on_replica INSTEAD OF INSERT ON append_event
WHEN NEW.stream_id IS NOT '$replication' AND EXISTS (SELECT 1 FROM replica_mode)
BEGIN
  SELECT RAISE(ABORT, 'STELE:REPLICA_NOT_PROMOTED');
END;

-- Promotion: only an unpromoted replica takes '$replication' events. The ceremony names the head
-- it promotes (the row just before it) and carries at least `witness_quorum` signatures of
-- distinct witnesses with active keys over (replica id, head sequence, head hash, reason). The
-- same checks hold for a copy of another file's ceremony, whose head and witnesses were those of
-- the same history; only a ceremony naming this replica's id ends its replica mode.
CREATE TRIGGER promotion_rules INSTEAD OF INSERT ON reserved_stream_event
WHEN NEW.stream_id = '$replication'
BEGIN
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"type"}')
   WHERE NEW.type IS NOT 'stele.replica_promoted';
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"only an unpromoted replica can be promoted"}')
   WHERE NOT EXISTS (SELECT 1 FROM replica_mode);
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"the ceremony names another head"}')
   WHERE json_extract(NEW.payload, '$.headSequence') IS NOT NEW.sequence - 1
      OR json_extract(NEW.payload, '$.headHash') IS NOT NEW.prev_hash
      OR typeof(json_extract(NEW.payload, '$.replicaId')) <> 'text';
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid witness signatures"}')
   WHERE (SELECT count(DISTINCT k.agent_id)
            FROM json_each(NEW.payload, '$.witnesses') AS s
            JOIN active_agent_keys AS k
              ON k.agent_id = json_extract(s.value, '$.witnessId') AND k.role = 'witness'
           WHERE stele_promotion_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                 json_extract(NEW.payload, '$.replicaId'),
                                                 NEW.sequence - 1, NEW.prev_hash,
                                                 json_extract(NEW.payload, '$.reason')))
       < (SELECT quorum FROM witness_quorum);
END;
