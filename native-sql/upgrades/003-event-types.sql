-- 003-event-types: an optional closed taxonomy of event types.
--
-- The writer stores the set it was opened with (`eventTypes`), or clears it. While the set is
-- not empty, the database refuses events of any other type, from every connection that can
-- append. Stele's own streams ('$agents', '$halt') have their own rules (002) and are exempt.

CREATE TABLE event_types (
  type TEXT PRIMARY KEY
) STRICT;

CREATE TRIGGER events_insert_known_type BEFORE INSERT ON events
WHEN NEW.stream_id NOT IN ('$agents', '$halt')
 AND EXISTS (SELECT 1 FROM event_types)
 AND NOT EXISTS (SELECT 1 FROM event_types WHERE type = NEW.type)
BEGIN
  SELECT RAISE(ABORT, 'STELE:UNKNOWN_EVENT_TYPE');
END;
