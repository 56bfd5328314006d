-- The reserved streams hold only Stele's own event types, each checked before it is written.
-- '$agents' (keys.sql), '$halt' (halt.sql), '$types' (event-types.sql) and '$checkpoints'
-- (checkpoints.sql) are checked here;
-- '$replication' has its own rules (replication.sql); '$default' is the stream of events that
-- name none, an ordinary stream. Any other stream id that starts with '$' is refused.
--
-- Functions registered by the writer (lib/sqlite/native-functions.ts):
--   stele_clear_halt_signature_valid(key, signature, halt_sequence, halt_hash, reason)
CREATE TRIGGER reserved_stream_rules INSTEAD OF INSERT ON reserved_stream_event
WHEN NEW.stream_id IN ('$agents', '$halt')
  OR (substr(NEW.stream_id, 1, 1) = '$' AND NEW.stream_id NOT IN ('$default', '$replication'))
BEGIN
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"type"}')
   WHERE NOT ((NEW.stream_id = '$agents' AND NEW.type IN ('stele.agent_key_registered', 'stele.agent_key_revoked'))
           OR (NEW.stream_id = '$halt' AND NEW.type IN ('stele.halted', 'stele.halt_cleared'))
           OR (NEW.stream_id = '$types' AND NEW.type = 'stele.event_types_set')
           OR (NEW.stream_id = '$checkpoints' AND NEW.type IN ('stele.checkpoint', 'stele.checkpoint_cosigned')));

  -- Key registration: a valid key under a role, and a key id not used before by this agent.
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

  -- Key revocation: the key exists and is still active.
  SELECT RAISE(ABORT, 'STELE:UNKNOWN_AGENT')
   WHERE NEW.type = 'stele.agent_key_revoked'
     AND NOT EXISTS (SELECT 1 FROM agent_keys
                      WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId'));
  SELECT RAISE(ABORT, 'STELE:AGENT_KEY_REVOKED')
   WHERE NEW.type = 'stele.agent_key_revoked'
     AND EXISTS (SELECT 1 FROM agent_key_revocations
                  WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId'));

  -- Clearing a halt: the ledger is halted, the ceremony names the current halt, and at least
  -- `witness_quorum` distinct witnesses with active keys signed (halt sequence, halt hash, reason).
  SELECT RAISE(ABORT, 'STELE:NOT_HALTED')
   WHERE NEW.type = 'stele.halt_cleared'
     AND (SELECT type FROM newest_halt) IS NOT 'stele.halted';
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"the ceremony names another halt"}')
    FROM newest_halt AS h
   WHERE NEW.type = 'stele.halt_cleared' AND json_extract(NEW.payload, '$.haltSequence') IS NOT h.sequence;
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid witness signatures"}')
    FROM (SELECT (SELECT count(DISTINCT k.agent_id)
                    FROM json_each(NEW.payload, '$.witnesses') AS s
                    JOIN active_agent_keys AS k
                      ON k.agent_id = json_extract(s.value, '$.witnessId') AND k.role = 'witness'
                   WHERE stele_clear_halt_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                          h.sequence, h.content_hash,
                                                          json_extract(NEW.payload, '$.reason'))) AS valid
            FROM newest_halt AS h) AS w
   WHERE NEW.type = 'stele.halt_cleared' AND w.valid < (SELECT quorum FROM witness_quorum);
END;
