-- Agent and witness keys, and the signatures they make.
--
-- Key registrations and revocations are themselves events, in the reserved stream '$agents', so
-- their history is hash-chained like everything else (their payloads are checked in
-- reserved-streams.sql). The key tables are derived from those events by triggers in the same
-- transaction, and guard themselves against any other write.
--
-- Functions registered by the writer (lib/sqlite/native-functions.ts):
--   stele_public_key_valid(key)                                  1 for a valid key (FORMAT.md "Ed25519 rules")
--   stele_signature_valid(key, signature, <SIGNED_COLUMNS...>)   Ed25519 over the signable bytes

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

-- The keys not revoked, agents' and witnesses'.
CREATE VIEW active_agent_keys AS
SELECT k.agent_id, k.key_id, k.public_key, k.role
  FROM agent_keys AS k
 WHERE NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id);

-- Signed events must verify against an active key of their agent, and an event with a signature
-- and no agent (or the reverse) is refused. With require_signatures set (it can be set, never
-- unset: ledger_meta refuses updates and deletes), unsigned events outside Stele's own streams are
-- refused too, a rule of every row checked in append-rules.sql; an unpromoted replica leaves that
-- setting to its primary (replication.sql).
CREATE TRIGGER signature_rules INSTEAD OF INSERT ON signed_event
WHEN NEW.signature IS NOT NULL OR NEW.agent_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'STELE:SIGNATURE_REQUIRED')
   WHERE NEW.signature IS NULL OR NEW.agent_id IS NULL;
  SELECT RAISE(ABORT, 'STELE:UNKNOWN_AGENT')
   WHERE NOT EXISTS (SELECT 1 FROM agent_keys WHERE agent_id = NEW.agent_id AND role = 'agent');
  SELECT RAISE(ABORT, 'STELE:AGENT_KEY_REVOKED')
   WHERE NOT EXISTS (SELECT 1 FROM active_agent_keys WHERE agent_id = NEW.agent_id AND role = 'agent');
  SELECT RAISE(ABORT, 'STELE:SIGNATURE_INVALID')
   WHERE NOT EXISTS (SELECT 1 FROM active_agent_keys AS k
                      WHERE k.agent_id = NEW.agent_id AND k.role = 'agent'
                        AND stele_signature_valid(k.public_key, NEW.signature, NEW.event_id, NEW.stream_id,
                                                  NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata,
                                                  NEW.metadata_meta, NEW.agent_id, NEW.local_timestamp));
END;

-- append_state.signatures_required follows ledger_meta (append-rules.sql).
CREATE TRIGGER ledger_meta_apply_require_signatures AFTER INSERT ON ledger_meta
WHEN NEW.key = 'require_signatures'
BEGIN
  UPDATE append_state SET signatures_required = 1;
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
