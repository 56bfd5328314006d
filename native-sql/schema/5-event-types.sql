-- The taxonomy: an optional closed set of event types, recorded in the chain.
--
-- The set in force is the one the newest event of the reserved stream '$types' names
-- ('stele.event_types_set', payload {"types": [...]}, strictly ascending in UTF-8 byte order);
-- before the first such event, and after one with an empty list, any type is accepted. A change of
-- the set is an append like any other (`ledger.setEventTypes()`), so every writer that opens the
-- file honours it and its history is hash-chained. While the set is not empty the database
-- refuses events of any other type, from every connection that can append. Stele's own streams
-- have their own rules and are exempt. `event_types` is derived from the chain, in the same
-- transaction, and guards itself against any other write.

CREATE TABLE event_types (
  type TEXT PRIMARY KEY
) STRICT;

-- (Whether an event's type is in the set is checked for every row, in append-rules.sql.)

-- A '$types' event names the whole set: a plain JSON object whose only member `types` is an
-- array of non-empty strings in strictly ascending order (so each type once, one spelling of
-- each set). Its type was checked by reserved-streams.sql.
CREATE TRIGGER event_types_rules INSTEAD OF INSERT ON reserved_stream_event
WHEN NEW.stream_id = '$types'
BEGIN
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"types"}')
   WHERE CASE
           WHEN NEW.payload_meta IS NOT NULL OR NOT coalesce(json_valid(NEW.payload), 0) THEN 1
           WHEN json_type(NEW.payload) IS NOT 'object' OR json_type(NEW.payload, '$.types') IS NOT 'array' THEN 1
           WHEN (SELECT count(*) FROM json_each(NEW.payload)) <> 1 THEN 1
           WHEN EXISTS (SELECT 1 FROM json_each(NEW.payload, '$.types') WHERE type <> 'text' OR value = '') THEN 1
           WHEN EXISTS (SELECT 1 FROM json_each(NEW.payload, '$.types') AS a
                          JOIN json_each(NEW.payload, '$.types') AS b ON b.key = a.key + 1
                         WHERE b.value <= a.value) THEN 1
           ELSE 0
         END;
END;

CREATE TRIGGER events_apply_event_types AFTER INSERT ON events
WHEN NEW.stream_id = '$types'
BEGIN
  DELETE FROM event_types WHERE type NOT IN (SELECT value FROM json_each(NEW.payload, '$.types'));
  INSERT INTO event_types (type)
  SELECT value FROM json_each(NEW.payload, '$.types') WHERE value NOT IN (SELECT type FROM event_types);
  UPDATE append_state SET typed = EXISTS (SELECT 1 FROM event_types);
END;

-- event_types changes only as the trigger above changes it: towards the set of the newest event,
-- when that event is a '$types' one.
CREATE TRIGGER event_types_only_from_events BEFORE INSERT ON event_types
WHEN NOT EXISTS (SELECT 1 FROM events AS e, json_each(e.payload, '$.types') AS t
                  WHERE e.sequence = (SELECT max(sequence) FROM events) AND e.stream_id = '$types'
                    AND t.value = NEW.type)
  OR EXISTS (SELECT 1 FROM event_types WHERE type = NEW.type)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:event_types');
END;

CREATE TRIGGER event_types_delete_only_from_events BEFORE DELETE ON event_types
WHEN NOT EXISTS (SELECT 1 FROM events AS e
                  WHERE e.sequence = (SELECT max(sequence) FROM events) AND e.stream_id = '$types'
                    AND OLD.type NOT IN (SELECT value FROM json_each(e.payload, '$.types')))
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;

CREATE TRIGGER event_types_no_update BEFORE UPDATE ON event_types
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;
