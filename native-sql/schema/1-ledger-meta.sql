-- The file's settings: what it is, and the few choices made when it was created.
--
-- Each setting is written once and never replaced (INSERT OR REPLACE included, which would
-- otherwise delete the old row silently on a connection with recursive_triggers OFF). Two are
-- settings of an empty file, which may change only while the ledger holds no event: the witness
-- quorum (openLedger's `witnessQuorum` at creation, a replica taking its primary's) and
-- `independent_witnesses_since` (the first row the independent-witness rules hold for).

CREATE TABLE ledger_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

INSERT INTO ledger_meta (key, value) VALUES
  ('format', 'stele'),
  ('event_hash', 'stele/event/v1'),
  ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  ('witness_quorum', '2'),
  ('independent_witnesses_since', '1');

-- The quorum of a witnessed ceremony, as a number.
CREATE VIEW witness_quorum AS
SELECT CAST(value AS INTEGER) AS quorum FROM ledger_meta WHERE key = 'witness_quorum';

CREATE TRIGGER ledger_meta_insert_once BEFORE INSERT ON ledger_meta
WHEN EXISTS (SELECT 1 FROM ledger_meta WHERE key = NEW.key)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:ledger_meta');
END;

CREATE TRIGGER ledger_meta_no_update BEFORE UPDATE ON ledger_meta
WHEN NOT (NEW.key = OLD.key
          AND NOT EXISTS (SELECT 1 FROM events)
          AND NEW.value = CAST(CAST(NEW.value AS INTEGER) AS TEXT)
          AND ((OLD.key = 'witness_quorum' AND CAST(NEW.value AS INTEGER) BETWEEN 1 AND 64)
            OR (OLD.key = 'independent_witnesses_since' AND CAST(NEW.value AS INTEGER) >= 1)))
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER ledger_meta_no_delete BEFORE DELETE ON ledger_meta
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;
