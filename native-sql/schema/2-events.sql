-- The events table, the append path, and the rules that make the table append-only.
--
-- Trust boundary: everything that makes a row trustworthy is computed or checked here, by the
-- database, not by application code. The writer registers the functions used below
-- (stele_event_hash, stele_drift_threshold_ms; lib/sqlite/native-functions.ts); a connection
-- without them (the sqlite3 shell, a stray script) can read every table but cannot prepare an
-- insert into `events` at all. See FORMAT.md for the columns and the exact hash encoding.

CREATE TABLE events (
  sequence            INTEGER PRIMARY KEY,        -- 1, 2, 3 ... with no gaps; the authoritative order
  event_id            TEXT    NOT NULL UNIQUE,    -- caller-supplied or generated; durable idempotency key
  stream_id           TEXT    NOT NULL,
  stream_version      INTEGER NOT NULL,           -- 0, 1, 2 ... per stream
  type                TEXT    NOT NULL,
  payload             TEXT,                       -- JSON text (json_extract works), NULL = undefined
  payload_meta        TEXT,                       -- superjson type annotations, NULL when plain JSON
  metadata            TEXT,
  metadata_meta       TEXT,
  agent_id            TEXT,
  signature           TEXT,
  local_timestamp     INTEGER NOT NULL,           -- caller's clock, ms since the Unix epoch
  authority_timestamp INTEGER NOT NULL,           -- the database's clock at append, ms since the Unix epoch
  prev_hash           TEXT    NOT NULL,           -- content_hash of sequence - 1 (64 zeros for sequence 1)
  content_hash        TEXT    NOT NULL,           -- stele/event/v1 hash of this row, see FORMAT.md
  UNIQUE (stream_id, stream_version)
) STRICT;

-- Reads of a time window (`ledger.events({ since, until })`) over a large ledger.
CREATE INDEX events_by_authority_timestamp ON events (authority_timestamp);

CREATE TABLE clock_drift_warnings (
  sequence            INTEGER PRIMARY KEY REFERENCES events (sequence),
  local_timestamp     INTEGER NOT NULL,
  authority_timestamp INTEGER NOT NULL,
  drift_ms            INTEGER NOT NULL,           -- authority - local
  threshold_ms        INTEGER NOT NULL
) STRICT;

-- The position the next row extends: the newest row, or before the first the genesis position
-- (sequence 0, a hash of 64 zeros). max() with a bare column reads the newest row's hash in the
-- same index seek.
CREATE VIEW chain_head AS
SELECT coalesce(max(sequence), 0) AS sequence,
       coalesce(content_hash, '0000000000000000000000000000000000000000000000000000000000000000') AS content_hash
  FROM events;

-- The only sanctioned way to append: insert into this view. The INSTEAD OF trigger assigns
-- sequence, stream version, authority timestamp, prev_hash and content_hash; callers supply
-- only what the event says. `expected_version` is 'any' | 'no_stream' | 'stream_exists' | n.
CREATE VIEW append_event AS
SELECT event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
       agent_id, signature, local_timestamp, NULL AS expected_version
FROM events;

CREATE TRIGGER append_event_insert INSTEAD OF INSERT ON append_event
BEGIN
  -- Durable idempotency: the same event id with the same content is a retry of an append that
  -- already happened (perhaps before a crash or restart). Nothing more to do; the writer reads
  -- the original row back. Checked before the expected version, which the original moved on.
  SELECT CASE
           WHEN e.type = NEW.type AND e.stream_id = NEW.stream_id
            AND e.payload IS NEW.payload AND e.payload_meta IS NEW.payload_meta
            AND e.metadata IS NEW.metadata AND e.metadata_meta IS NEW.metadata_meta
            AND e.agent_id IS NEW.agent_id AND e.signature IS NEW.signature
           THEN RAISE(IGNORE)
           ELSE RAISE(ABORT, 'STELE:DUPLICATE_EVENT_ID')
         END
    FROM events AS e WHERE e.event_id = NEW.event_id;

  -- The stream's version is looked up only when a check asks for it.
  SELECT RAISE(ABORT, 'STELE:WRONG_EXPECTED_VERSION')
   WHERE NEW.expected_version IS NOT NULL AND NEW.expected_version IS NOT 'any'
     AND CASE
           WHEN NEW.expected_version = 'no_stream'
             THEN (SELECT max(stream_version) FROM events WHERE stream_id = NEW.stream_id) IS NOT NULL
           WHEN NEW.expected_version = 'stream_exists'
             THEN (SELECT max(stream_version) FROM events WHERE stream_id = NEW.stream_id) IS NULL
           WHEN typeof(NEW.expected_version) IN ('integer', 'real')
             THEN (SELECT max(stream_version) FROM events WHERE stream_id = NEW.stream_id) IS NOT NEW.expected_version
           ELSE RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"expectedVersion"}')
         END;

  INSERT INTO events (sequence, event_id, stream_id, stream_version, type, payload, payload_meta,
                      metadata, metadata_meta, agent_id, signature, local_timestamp,
                      authority_timestamp, prev_hash, content_hash)
  SELECT a.sequence, NEW.event_id, NEW.stream_id, a.stream_version, NEW.type, NEW.payload,
         NEW.payload_meta, NEW.metadata, NEW.metadata_meta, NEW.agent_id, NEW.signature,
         NEW.local_timestamp, a.now, a.prev_hash,
         stele_event_hash(a.sequence, NEW.event_id, NEW.stream_id, a.stream_version, NEW.type,
                          NEW.payload, NEW.payload_meta, NEW.metadata, NEW.metadata_meta,
                          NEW.agent_id, NEW.signature, NEW.local_timestamp, a.now, a.prev_hash)
    FROM (SELECT h.sequence + 1 AS sequence,
                 h.content_hash AS prev_hash,
                 coalesce((SELECT max(stream_version) FROM events WHERE stream_id = NEW.stream_id), -1) + 1
                   AS stream_version,
                 -- 'now' is fixed for the whole statement, so the guard below sees the same value.
                 CAST(round(unixepoch('subsec') * 1000) AS INTEGER) AS now
            FROM chain_head AS h) AS a;
END;

-- The table guards itself, so that a direct INSERT (ours included) must extend the chain exactly
-- as the view would have: next sequence, linked prev_hash, a new event id, next stream version,
-- the database's clock, and the correct content hash. One CASE, checked in order, so each
-- lookup runs once and only when the checks before it passed. On an unpromoted replica
-- (replication.sql) the authority timestamp is the primary's, taken as given; the replica check
-- runs only when the timestamp differs from now, so a primary's append never pays for it.
CREATE TRIGGER events_insert_extends_chain BEFORE INSERT ON events
BEGIN
  SELECT CASE
           WHEN NEW.sequence IS NOT h.sequence + 1
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:sequence')
           WHEN NEW.prev_hash IS NOT h.content_hash
             THEN RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:prev_hash')
           -- An existing event_id would make INSERT OR REPLACE delete that event; on a connection
           -- with recursive_triggers OFF the delete guard would not fire. Sequence and (stream,
           -- version) cannot conflict: the checks around this one pin both to fresh values.
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
    FROM chain_head AS h;
END;

-- The rules of Stele's own streams ('$...') and of signed events are INSTEAD OF triggers of these
-- two views, in the file of each concern: events_insert_rules (append-rules.sql) inserts a row's
-- values into one only when the row is one of those, so that an ordinary row pays nothing for
-- their rules. The views hold no row, and an insert into them writes nothing: it runs the rules.
CREATE VIEW reserved_stream_event AS
SELECT sequence, event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
       agent_id, signature, local_timestamp, prev_hash
  FROM events WHERE 0;

CREATE VIEW signed_event AS
SELECT sequence, event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
       agent_id, signature, local_timestamp, prev_hash
  FROM events WHERE 0;

-- recursive_triggers is ON on the writer connection, so INSERT OR REPLACE and UPSERT, which
-- delete or update the conflicting row, reach these triggers too.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;

-- Clock drift is information, not a reason to refuse: the event is accepted and a row is kept.
CREATE TRIGGER events_clock_drift AFTER INSERT ON events
WHEN abs(NEW.authority_timestamp - NEW.local_timestamp) > stele_drift_threshold_ms()
BEGIN
  INSERT INTO clock_drift_warnings (sequence, local_timestamp, authority_timestamp, drift_ms, threshold_ms)
  VALUES (NEW.sequence, NEW.local_timestamp, NEW.authority_timestamp,
          NEW.authority_timestamp - NEW.local_timestamp, stele_drift_threshold_ms());
END;

-- Warning rows come only from the trigger above, for the event just appended. Without this guard a
-- connection with recursive_triggers OFF could INSERT OR REPLACE a row without firing the delete guard.
CREATE TRIGGER clock_drift_warnings_only_from_events BEFORE INSERT ON clock_drift_warnings
WHEN NOT EXISTS (SELECT 1 FROM events AS e
                  WHERE e.sequence = NEW.sequence AND e.sequence = (SELECT max(sequence) FROM events)
                    AND e.local_timestamp = NEW.local_timestamp
                    AND e.authority_timestamp = NEW.authority_timestamp
                    AND NEW.drift_ms = e.authority_timestamp - e.local_timestamp)
  OR EXISTS (SELECT 1 FROM clock_drift_warnings WHERE sequence = NEW.sequence)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:clock_drift_warnings');
END;

CREATE TRIGGER clock_drift_warnings_no_update BEFORE UPDATE ON clock_drift_warnings
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER clock_drift_warnings_no_delete BEFORE DELETE ON clock_drift_warnings
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;
