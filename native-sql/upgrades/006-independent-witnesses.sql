-- 006-independent-witnesses: a witnessed ceremony needs as many independent key holders as the
-- quorum says, not as many names.
--
-- From the first row appended under this schema on (`independent_witnesses_since`; rows before it
-- keep the rules they were written under, FORMAT.md "Verifying a ledger"):
--   - a ceremony (clear-halt, promotion) counts distinct public keys as well as distinct witness
--     ids: one key pair registered under two names signs once;
--   - witness keys are neither registered nor revoked while the ledger is halted, so whoever holds
--     the Ledger during a halt cannot make the witnesses that clear it;
--   - a public key holds one role: a witness key is never also an agent key, and the reverse.
--
-- The quorum (`witness_quorum`) and `independent_witnesses_since` are settings of an empty file:
-- they can be set while the ledger holds no event (openLedger's `witnessQuorum` at creation, a
-- replica taking its primary's), and never after.

INSERT INTO ledger_meta (key, value)
SELECT 'independent_witnesses_since', CAST(coalesce(max(sequence), 0) + 1 AS TEXT) FROM events;

DROP TRIGGER ledger_meta_no_update;
CREATE TRIGGER ledger_meta_no_update BEFORE UPDATE ON ledger_meta
WHEN NOT (NEW.key = OLD.key
          AND NOT EXISTS (SELECT 1 FROM events)
          AND NEW.value = CAST(CAST(NEW.value AS INTEGER) AS TEXT)
          AND ((OLD.key = 'witness_quorum' AND CAST(NEW.value AS INTEGER) BETWEEN 1 AND 64)
            OR (OLD.key = 'independent_witnesses_since' AND CAST(NEW.value AS INTEGER) >= 1)))
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

-- The checks of 002/004 still run; these come on top, from `independent_witnesses_since` on.
CREATE TRIGGER events_insert_independent_witnesses BEFORE INSERT ON events
WHEN NEW.stream_id IN ('$agents', '$halt', '$replication')
 AND json_valid(NEW.payload)
 AND NEW.sequence >= (SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'independent_witnesses_since')
BEGIN
  SELECT RAISE(ABORT, 'STELE:LEDGER_HALTED:{"refused":"witness keys cannot change while the ledger is halted"}')
   WHERE NEW.stream_id = '$agents'
     AND (SELECT type FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) IS 'stele.halted'
     AND ((NEW.type = 'stele.agent_key_registered' AND json_extract(NEW.payload, '$.role') IS 'witness')
       OR (NEW.type = 'stele.agent_key_revoked'
           AND EXISTS (SELECT 1 FROM agent_keys
                        WHERE agent_id = json_extract(NEW.payload, '$.agentId') AND key_id = json_extract(NEW.payload, '$.keyId')
                          AND role = 'witness')));

  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"publicKey","reason":"the key is registered under the other role"}')
   WHERE NEW.type = 'stele.agent_key_registered'
     AND EXISTS (SELECT 1 FROM agent_keys
                  WHERE public_key = json_extract(NEW.payload, '$.publicKey') AND role IS NOT json_extract(NEW.payload, '$.role'));

  -- The signatures of 002/004, counted by public key. Only for a ceremony that names what it
  -- must (the current halt, this head), so that those triggers report a wrong one as such.
  SELECT RAISE(ABORT, 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid signatures of distinct witness keys"}')
    FROM (SELECT 1) AS one
    LEFT JOIN (SELECT sequence, content_hash, type FROM events
                WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) AS h ON 1
   WHERE ((NEW.type = 'stele.halt_cleared' AND h.type IS 'stele.halted'
           AND json_extract(NEW.payload, '$.haltSequence') IS h.sequence)
       OR (NEW.type = 'stele.replica_promoted' AND EXISTS (SELECT 1 FROM replica_mode)
           AND json_extract(NEW.payload, '$.headSequence') IS NEW.sequence - 1
           AND json_extract(NEW.payload, '$.headHash') IS NEW.prev_hash))
     AND (SELECT count(DISTINCT k.public_key)
            FROM json_each(NEW.payload, '$.witnesses') AS s
            JOIN agent_keys AS k
              ON k.agent_id = json_extract(s.value, '$.witnessId') AND k.role = 'witness'
           WHERE NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r
                              WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
             AND CASE NEW.type
                   WHEN 'stele.halt_cleared'
                   THEN stele_clear_halt_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                         h.sequence, h.content_hash, json_extract(NEW.payload, '$.reason'))
                   ELSE stele_promotion_signature_valid(k.public_key, json_extract(s.value, '$.signature'),
                                                        json_extract(NEW.payload, '$.replicaId'), NEW.sequence - 1,
                                                        NEW.prev_hash, json_extract(NEW.payload, '$.reason'))
                 END)
       < (SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'witness_quorum');
END;
