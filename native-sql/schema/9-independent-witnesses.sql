-- A witnessed ceremony needs as many independent key holders as the quorum says, not as many
-- names. From `independent_witnesses_since` on (rows before it keep the rules they were written
-- under, FORMAT.md "Verifying a ledger"):
--   - a ceremony (clear-halt, promotion) counts distinct public keys as well as distinct witness
--     ids: one key pair registered under two names signs once;
--   - witness keys are neither registered nor revoked while the ledger is halted, so whoever holds
--     the Ledger during a halt cannot make the witnesses that clear it;
--   - a public key holds one role: a witness key is never also an agent key, and the reverse.
-- The checks of reserved-streams.sql and replication.sql run too; these come first.
CREATE TRIGGER independent_witness_rules INSTEAD OF INSERT ON reserved_stream_event
WHEN NEW.stream_id IN ('$agents', '$halt', '$replication')
 AND json_valid(NEW.payload)
 AND NEW.sequence >= (SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'independent_witnesses_since')
BEGIN
  SELECT RAISE(ABORT, 'STELE:LEDGER_HALTED:{"refused":"witness keys cannot change while the ledger is halted"}')
   WHERE NEW.stream_id = '$agents'
     AND (SELECT type FROM newest_halt) IS 'stele.halted'
     AND ((NEW.type = 'stele.agent_key_registered' AND json_extract(NEW.payload, '$.role') IS 'witness')
       OR (NEW.type = 'stele.agent_key_revoked'
           AND EXISTS (SELECT 1 FROM agent_keys
                        WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId')
                          AND role = 'witness')));

  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"publicKey","reason":"the key is registered under the other role"}')
   WHERE NEW.type = 'stele.agent_key_registered'
     AND EXISTS (SELECT 1 FROM agent_keys
                  WHERE public_key = json_extract(NEW.payload, '$.publicKey') AND role IS NOT json_extract(NEW.payload, '$.role'));

  -- The signatures, counted by public key. Only for a ceremony that names what it must (the
  -- current halt, this head), so that the triggers of reserved-streams.sql and replication.sql
  -- report a wrong one as such.
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid signatures of distinct witness keys"}')
    FROM (SELECT 1) AS one
    LEFT JOIN newest_halt AS h ON 1
   WHERE ((NEW.type = 'stele.halt_cleared' AND h.type IS 'stele.halted'
           AND json_extract(NEW.payload, '$.haltSequence') IS h.sequence)
       OR (NEW.type = 'stele.replica_promoted' AND EXISTS (SELECT 1 FROM replica_mode)
           AND json_extract(NEW.payload, '$.headSequence') IS NEW.sequence - 1
           AND json_extract(NEW.payload, '$.headHash') IS NEW.prev_hash))
     AND (SELECT count(DISTINCT k.public_key)
            FROM json_each(NEW.payload, '$.witnesses') AS s
            JOIN active_agent_keys AS k
              ON k.agent_id = json_extract(s.value, '$.witnessId') AND k.role = 'witness'
           WHERE CASE NEW.type
                   WHEN 'stele.halt_cleared'
                   THEN stele_clear_halt_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                         h.sequence, h.content_hash, json_extract(NEW.payload, '$.reason'))
                   ELSE stele_promotion_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                        json_extract(NEW.payload, '$.replicaId'), NEW.sequence - 1,
                                                        NEW.prev_hash, json_extract(NEW.payload, '$.reason'))
                 END)
       < (SELECT quorum FROM witness_quorum);
END;
