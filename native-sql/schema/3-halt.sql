-- Halts. The halt flag is not a mutable row: the ledger is halted while the newest event of the
-- reserved stream '$halt' is a 'stele.halted'. The ceremony that clears a halt is checked with the
-- other reserved-stream rules (reserved-streams.sql) and by the witness rules (witnesses.sql).

-- The newest event of '$halt', if any.
CREATE VIEW newest_halt AS
SELECT sequence, content_hash, type FROM events
 WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1;

-- A halted ledger refuses every append except to Stele's own streams: '$halt' (a further halt,
-- or the ceremony that clears it), '$agents' (revoking a compromised key, registering agents) and
-- '$replication' (a halted replica can be promoted, and stays halted until the clearing
-- ceremony) and '$checkpoints' (the log can still be checkpointed and witnessed: a halt stops
-- what the ledger records, not what observers can prove about it). It is checked for every
-- row, from every connection that can append at all, in append-rules.sql.

-- append_state.halted follows the newest '$halt' event (append-rules.sql).
CREATE TRIGGER events_apply_halt AFTER INSERT ON events
WHEN NEW.stream_id = '$halt'
BEGIN
  UPDATE append_state SET halted = NEW.type = 'stele.halted';
END;
