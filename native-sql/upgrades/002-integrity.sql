-- 002-integrity: agent keys and signatures, halts and the witnessed ceremony that clears one.
--
-- Key registrations, revocations, halts and ceremonies are themselves events, in reserved
-- streams ('$agents', '$halt'), so their history is hash-chained like everything else. The key
-- tables are derived from those events by triggers in the same transaction, and guard
-- themselves against any other write. The halt flag is not a mutable row: the ledger is halted
-- while the newest event of '$halt' is a 'stele.halted'.
--
-- Functions registered by the writer (see lib/native-sql.ts):
--   stele_public_key_valid(key)                     1 when key is base64 of 32 raw ed25519 bytes
--   stele_signature_valid(key, signature, <SIGNED_COLUMNS...>)   ed25519 over the signable bytes
--   stele_clear_halt_signature_valid(key, signature, halt_sequence, halt_hash, reason)

INSERT INTO ledger_meta (key, value) VALUES ('witness_quorum', '2');

CREATE TABLE agent_keys (
  agent_id            TEXT    NOT NULL,
  key_id              TEXT    NOT NULL,
  public_key          TEXT    NOT NULL,           -- base64 of the raw 32-byte ed25519 public key
  role                TEXT    NOT NULL CHECK (role IN ('agent', 'witness')),
  registered_sequence INTEGER NOT NULL UNIQUE REFERENCES events (sequence),
  PRIMARY KEY (agent_id, key_id)
) STRICT;

CREATE TABLE agent_key_revocations (
  agent_id         TEXT    NOT NULL,
  key_id           TEXT    NOT NULL,
  revoked_sequence INTEGER NOT NULL UNIQUE REFERENCES events (sequence),
  reason           TEXT    NOT NULL,
  PRIMARY KEY (agent_id, key_id),
  FOREIGN KEY (agent_id, key_id) REFERENCES agent_keys (agent_id, key_id)
) STRICT;

-- A halted ledger refuses every append except to Stele's own streams: '$halt' (a further halt,
-- or the ceremony that clears it) and '$agents' (revoking a compromised key, registering the
-- witnesses that will clear the halt). This runs for every connection that can append at all.
CREATE TRIGGER events_insert_not_halted BEFORE INSERT ON events
WHEN NEW.stream_id NOT IN ('$halt', '$agents')
BEGIN
  SELECT RAISE(ABORT, 'STELE:LEDGER_HALTED')
    FROM (SELECT sequence, type, payload FROM events
           WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1) AS h
   WHERE h.type = 'stele.halted';
END;

-- Signed events must verify against an active key of their agent. With require_signatures set
-- (it can be set, never unset: ledger_meta refuses updates and deletes), unsigned events outside
-- Stele's own streams ('$agents', '$halt') are refused.
CREATE TRIGGER events_insert_signature BEFORE INSERT ON events
WHEN NEW.signature IS NOT NULL OR NEW.agent_id IS NOT NULL
  OR (NEW.stream_id NOT IN ('$agents', '$halt') AND EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures'))
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

-- The reserved streams hold only Stele's own event types, each checked before it is written.
CREATE TRIGGER events_insert_reserved_streams BEFORE INSERT ON events
WHEN substr(NEW.stream_id, 1, 1) = '$' AND NEW.stream_id <> '$default'
BEGIN
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"type"}')
   WHERE NOT ((NEW.stream_id = '$agents' AND NEW.type IN ('stele.agent_key_registered', 'stele.agent_key_revoked'))
           OR (NEW.stream_id = '$halt' AND NEW.type IN ('stele.halted', 'stele.halt_cleared')));

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

CREATE TRIGGER events_apply_key_registration AFTER INSERT ON events
WHEN NEW.stream_id = '$agents' AND NEW.type = 'stele.agent_key_registered'
BEGIN
  INSERT INTO agent_keys (agent_id, key_id, public_key, role, registered_sequence)
  VALUES (json_extract(NEW.payload, '$.agentId'), json_extract(NEW.payload, '$.keyId'),
          json_extract(NEW.payload, '$.publicKey'), json_extract(NEW.payload, '$.role'), NEW.sequence);
END;

CREATE TRIGGER events_apply_key_revocation AFTER INSERT ON events
WHEN NEW.stream_id = '$agents' AND NEW.type = 'stele.agent_key_revoked'
BEGIN
  INSERT INTO agent_key_revocations (agent_id, key_id, revoked_sequence, reason)
  VALUES (json_extract(NEW.payload, '$.agentId'), json_extract(NEW.payload, '$.keyId'), NEW.sequence,
          coalesce(json_extract(NEW.payload, '$.reason'), ''));
END;

-- The key tables accept only the rows the triggers above derive from the newest event.
CREATE TRIGGER agent_keys_only_from_events BEFORE INSERT ON agent_keys
WHEN NOT EXISTS (SELECT 1 FROM events AS e
                  WHERE e.sequence = NEW.registered_sequence
                    AND e.sequence = (SELECT max(sequence) FROM events)
                    AND e.stream_id = '$agents' AND e.type = 'stele.agent_key_registered'
                    AND json_extract(e.payload, '$.agentId') IS NEW.agent_id
                    AND json_extract(e.payload, '$.keyId') IS NEW.key_id
                    AND json_extract(e.payload, '$.publicKey') IS NEW.public_key
                    AND json_extract(e.payload, '$.role') IS NEW.role)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:agent_keys');
END;

CREATE TRIGGER agent_key_revocations_only_from_events BEFORE INSERT ON agent_key_revocations
WHEN NOT EXISTS (SELECT 1 FROM events AS e
                  WHERE e.sequence = NEW.revoked_sequence
                    AND e.sequence = (SELECT max(sequence) FROM events)
                    AND e.stream_id = '$agents' AND e.type = 'stele.agent_key_revoked'
                    AND json_extract(e.payload, '$.agentId') IS NEW.agent_id
                    AND json_extract(e.payload, '$.keyId') IS NEW.key_id)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:agent_key_revocations');
END;

CREATE TRIGGER agent_keys_no_update BEFORE UPDATE ON agent_keys
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER agent_keys_no_delete BEFORE DELETE ON agent_keys
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;

CREATE TRIGGER agent_key_revocations_no_update BEFORE UPDATE ON agent_key_revocations
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER agent_key_revocations_no_delete BEFORE DELETE ON agent_key_revocations
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;
