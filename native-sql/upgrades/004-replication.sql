-- 004-replication: replica files, which receive a primary's rows verbatim, and the witnessed
-- ceremony that promotes a replica to a primary.
--
-- A replica is a Stele file like any other, with two more settings: `replica_id` (its identity)
-- and `replica_of` (the primary it copies, informational). Both can be written only while the
-- file holds no event, so a primary can never be turned into a replica after the fact. While a
-- file is a replica, rows reach it exactly as the primary stored them, through the same guards
-- as every append: the chain must extend, hashes recompute, signatures verify against the key
-- history the copied '$agents' events replay, halts hold. Two rules relax, because they state
-- what is true at the moment of the original append, which the primary already checked: the
-- authority timestamp is the primary's, not the replica's clock, and `require_signatures`
-- (a setting, not history; its moment is not recorded) is left to the primary.
--
-- A replica stops being one when its own promotion ceremony ('stele.replica_promoted' in the
-- reserved stream '$replication', naming its replica_id) is appended; from then on it is a
-- primary whose every rule applies. A copy of some other file's ceremony (the primary was once a
-- promoted replica itself) is history like any other row.
--
-- Functions registered by the writer (see lib/native-sql.ts):
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

-- As in 001, with the authority timestamp taken as given on an unpromoted replica. The replica
-- check runs only when the timestamp differs from now, so a primary's append never pays for it.
DROP TRIGGER events_insert_extends_chain;
CREATE TRIGGER events_insert_extends_chain BEFORE INSERT ON events
BEGIN
  SELECT CASE
           WHEN NEW.sequence IS NOT coalesce(h.sequence, 0) + 1
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:sequence')
           WHEN NEW.prev_hash IS NOT coalesce(h.content_hash,
                                              '0000000000000000000000000000000000000000000000000000000000000000')
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:prev_hash')
           WHEN EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:event_id')
           WHEN NEW.stream_version IS NOT
                coalesce((SELECT max(stream_version) FROM events WHERE stream_id = NEW.stream_id), -1) + 1
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:stream_version')
           WHEN NEW.authority_timestamp IS NOT CAST(round(unixepoch('subsec') * 1000) AS INTEGER)
            AND NOT EXISTS (SELECT 1 FROM replica_mode)
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:authority_timestamp')
           WHEN NEW.content_hash IS NOT
                stele_event_hash(NEW.sequence, NEW.event_id, NEW.stream_id, NEW.stream_version, NEW.type,
                                 NEW.payload, NEW.payload_meta, NEW.metadata, NEW.metadata_meta,
                                 NEW.agent_id, NEW.signature, NEW.local_timestamp,
                                 NEW.authority_timestamp, NEW.prev_hash)
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:content_hash')
         END
    FROM (SELECT max(sequence) AS sequence, content_hash FROM events) AS h;
END;

-- As in 002, with '$replication' among the streams a halted ledger still accepts: a halted
-- replica can be promoted, and stays halted until the clearing ceremony.
DROP TRIGGER events_insert_not_halted;
CREATE TRIGGER events_insert_not_halted BEFORE INSERT ON events
WHEN NEW.stream_id NOT IN ('$halt', '$agents', '$replication')
BEGIN
  SELECT RAISE(ABORT, 'STELE:LEDGER_HALTED')
    FROM (SELECT sequence, type, payload FROM events
           WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) AS h
   WHERE h.type = 'stele.halted';
END;

-- As in 002, with require_signatures left to the primary on an unpromoted replica.
DROP TRIGGER events_insert_signature;
CREATE TRIGGER events_insert_signature BEFORE INSERT ON events
WHEN NEW.signature IS NOT NULL OR NEW.agent_id IS NOT NULL
  OR (NEW.stream_id NOT IN ('$agents', '$halt', '$replication')
      AND EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')
      AND NOT EXISTS (SELECT 1 FROM replica_mode))
BEGIN
  SELECT RAISE(ABORT, 'STELE:SIGNATURE_REQUIRED')
   WHERE NEW.signature IS NULL OR NEW.agent_id IS NULL;
  SELECT RAISE(ABORT, 'STELE:UNKNOWN_AGENT')
   WHERE NOT EXISTS (SELECT 1 FROM agent_keys WHERE agent_id = NEW.agent_id AND role = 'agent');
  SELECT RAISE(ABORT, 'STELE:AGENT_KEY_REVOKED')
   WHERE NOT EXISTS (SELECT 1 FROM agent_keys AS k
                      WHERE k.agent_id = NEW.agent_id AND k.role = 'agent'
                        AND NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r
                                         WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id));
  SELECT RAISE(ABORT, 'STELE:SIGNATURE_INVALID')
   WHERE NOT EXISTS (SELECT 1 FROM agent_keys AS k
                      WHERE k.agent_id = NEW.agent_id AND k.role = 'agent'
                        AND NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r
                                         WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
                        AND stele_signature_valid(k.public_key, NEW.signature, NEW.event_id, NEW.stream_id,
                                                  NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata,
                                                  NEW.metadata_meta, NEW.agent_id, NEW.local_timestamp));
END;

-- As in 003, with '$replication' exempt like Stele's other streams.
DROP TRIGGER events_insert_known_type;
CREATE TRIGGER events_insert_known_type BEFORE INSERT ON events
WHEN NEW.stream_id NOT IN ('$agents', '$halt', '$replication')
 AND EXISTS (SELECT 1 FROM event_types)
 AND NOT EXISTS (SELECT 1 FROM event_types WHERE type = NEW.type)
BEGIN
  SELECT RAISE(ABORT, 'STELE:UNKNOWN_EVENT_TYPE');
END;

-- The reserved-stream trigger of 002 checks '$agents' and '$halt'; '$replication' has its own.
-- The type check of 002 would refuse every '$replication' event, so it moves here, per stream.
DROP TRIGGER events_insert_reserved_streams;
CREATE TRIGGER events_insert_reserved_streams BEFORE INSERT ON events
WHEN NEW.stream_id IN ('$agents', '$halt')
  OR (substr(NEW.stream_id, 1, 1) = '$' AND NEW.stream_id NOT IN ('$default', '$replication'))
BEGIN
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"type"}')
   WHERE NOT ((NEW.stream_id = '$agents' AND NEW.type IN ('stele.agent_key_registered', 'stele.agent_key_revoked'))
           OR (NEW.stream_id = '$halt' AND NEW.type IN ('stele.halted', 'stele.halt_cleared')));

  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"publicKey"}')
   WHERE NEW.type = 'stele.agent_key_registered'
     AND NOT stele_public_key_valid(json_extract(NEW.payload, '$.publicKey'));
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"role"}')
   WHERE NEW.type = 'stele.agent_key_registered'
     AND coalesce(json_extract(NEW.payload, '$.role') IN ('agent', 'witness'), 0) = 0;
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"agentId"}')
   WHERE NEW.type IN ('stele.agent_key_registered', 'stele.agent_key_revoked')
     AND (typeof(json_extract(NEW.payload, '$.agentId')) <> 'text' OR typeof(json_extract(NEW.payload, '$.keyId')) <> 'text');
  SELECT RAISE(ABORT, 'STELE:DUPLICATE_AGENT_KEY')
   WHERE NEW.type = 'stele.agent_key_registered'
     AND EXISTS (SELECT 1 FROM agent_keys
                  WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId'));

  SELECT RAISE(ABORT, 'STELE:UNKNOWN_AGENT')
   WHERE NEW.type = 'stele.agent_key_revoked'
     AND NOT EXISTS (SELECT 1 FROM agent_keys
                      WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId'));
  SELECT RAISE(ABORT, 'STELE:AGENT_KEY_REVOKED')
   WHERE NEW.type = 'stele.agent_key_revoked'
     AND EXISTS (SELECT 1 FROM agent_key_revocations
                  WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId'));

  SELECT RAISE(ABORT, 'STELE:NOT_HALTED')
   WHERE NEW.type = 'stele.halt_cleared'
     AND (SELECT type FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) IS NOT 'stele.halted';
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"the ceremony names another halt"}')
    FROM (SELECT sequence FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) AS h
   WHERE NEW.type = 'stele.halt_cleared' AND json_extract(NEW.payload, '$.haltSequence') IS NOT h.sequence;
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid witness signatures"}')
    FROM (SELECT (SELECT count(DISTINCT k.agent_id)
                    FROM json_each(NEW.payload, '$.witnesses') AS s
                    JOIN agent_keys AS k
                      ON k.agent_id = json_extract(s.value, '$.witnessId') AND k.role = 'witness'
                   WHERE NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r
                                      WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
                     AND stele_clear_halt_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                          h.sequence, h.content_hash,
                                                          json_extract(NEW.payload, '$.reason'))) AS valid,
                 (SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'witness_quorum') AS quorum
            FROM (SELECT sequence, content_hash FROM events
                   WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) AS h) AS w
   WHERE NEW.type = 'stele.halt_cleared' AND w.valid < w.quorum;
END;

-- Promotion: only an unpromoted replica takes '$replication' events. The ceremony names the head
-- it promotes (the row just before it) and carries at least `witness_quorum` signatures of
-- distinct witnesses with active keys over (replica id, head sequence, head hash, reason). The
-- same checks hold for a copy of another file's ceremony, whose head and witnesses were those of
-- the same history; only a ceremony naming this replica's id ends its replica mode.
CREATE TRIGGER events_insert_replication BEFORE INSERT ON events
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
    FROM (SELECT (SELECT count(DISTINCT k.agent_id)
                    FROM json_each(NEW.payload, '$.witnesses') AS s
                    JOIN agent_keys AS k
                      ON k.agent_id = json_extract(s.value, '$.witnessId') AND k.role = 'witness'
                   WHERE NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r
                                      WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
                     AND stele_promotion_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                         json_extract(NEW.payload, '$.replicaId'),
                                                         NEW.sequence - 1, NEW.prev_hash,
                                                         json_extract(NEW.payload, '$.reason'))) AS valid,
                 (SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'witness_quorum') AS quorum) AS w
   WHERE w.valid < w.quorum;
END;
