-- Stored checkpoints (from schema 10): the log's signed C2SP checkpoints, kept in the chain.
--
-- A checkpoint is an event of the reserved stream '$checkpoints' with the payload
-- {"logKey": <the log's Ed25519 vkey>, "note": <the signed checkpoint note>}, of one of two types:
-- 'stele.checkpoint', a tree larger than every checkpoint before it, or
-- 'stele.checkpoint_cosigned', the text of an earlier 'stele.checkpoint' exactly, with more
-- signatures (witnesses' cosignatures, which may arrive after newer checkpoints). It covers
-- events before it only, so it is hash-chained, replicated and verified like every other row.
-- Every checkpoint of a file is checked against that file's own tree: its root is the root the
-- stored nodes give at its size, it carries the log key's signature, and all checkpoints of a
-- file share one log key and one origin. Since they all describe prefixes of one append-only
-- tree, each is consistent with every earlier one, and each size has one checkpoint text. The
-- cosignatures themselves are checked by whoever trusts the witnesses (stele/proofs).
--
-- Functions registered by the writer (lib/sqlite/native-functions.ts):
--   stele_checkpoint_part(payload, part)   'size', 'root', 'body', 'origin' or 'log_key' of a
--                                          well-formed payload; NULL for any other payload
--   stele_checkpoint_signed(payload)       1 when the note has a valid signature by logKey
--   stele_merkle_root(start, level, hash)  aggregate: the root of the tree the given complete
--                                          subtrees tile from leaf 0; NULL if they do not
--   stele_merkle_leaf(content_hash)        SHA-256(0x00 ‖ the 32 bytes of content_hash)
CREATE TRIGGER checkpoint_rules INSTEAD OF INSERT ON reserved_stream_event
WHEN NEW.stream_id = '$checkpoints'
BEGIN
  SELECT RAISE(ABORT, 'STELE:INVALID_EVENT:{"field":"note"}')
   WHERE NEW.payload_meta IS NOT NULL OR stele_checkpoint_part(NEW.payload, 'size') IS NULL;

  SELECT RAISE(ABORT, 'STELE:CHECKPOINT_REFUSED:{"reason":"another log key or origin than the first checkpoint of this ledger"}')
    FROM (SELECT payload FROM events WHERE stream_id = '$checkpoints' ORDER BY stream_version LIMIT 1) AS first
   WHERE stele_checkpoint_part(first.payload, 'log_key') IS NOT stele_checkpoint_part(NEW.payload, 'log_key')
      OR stele_checkpoint_part(first.payload, 'origin') IS NOT stele_checkpoint_part(NEW.payload, 'origin');

  SELECT RAISE(ABORT, 'STELE:CHECKPOINT_REFUSED:{"reason":"a checkpoint covers only the events before it"}')
   WHERE stele_checkpoint_part(NEW.payload, 'size') >= NEW.sequence;

  -- The newest 'stele.checkpoint' has the largest size so far: each was larger than the one before.
  SELECT RAISE(ABORT, 'STELE:CHECKPOINT_REFUSED:{"reason":"a tree no larger than the newest checkpoint"}')
    FROM (SELECT payload FROM events WHERE stream_id = '$checkpoints' AND type = 'stele.checkpoint'
           ORDER BY stream_version DESC LIMIT 1) AS newest
   WHERE NEW.type = 'stele.checkpoint'
     AND stele_checkpoint_part(NEW.payload, 'size') <= stele_checkpoint_part(newest.payload, 'size');

  -- Cosignatures mostly follow their checkpoint closely: the search runs from the newest.
  SELECT RAISE(ABORT, 'STELE:CHECKPOINT_REFUSED:{"reason":"cosignatures of a checkpoint that is not stored"}')
   WHERE NEW.type = 'stele.checkpoint_cosigned'
     AND (SELECT 1 FROM events
           WHERE stream_id = '$checkpoints' AND type = 'stele.checkpoint'
             AND stele_checkpoint_part(payload, 'body') = stele_checkpoint_part(NEW.payload, 'body')
           ORDER BY stream_version DESC LIMIT 1) IS NULL;

  SELECT RAISE(ABORT, 'STELE:CHECKPOINT_REFUSED:{"reason":"the note has no valid signature by its log key"}')
   WHERE NOT stele_checkpoint_signed(NEW.payload);

  -- The root at the checkpoint's size: the stored node of each 1 bit of the size from level 4 up,
  -- and the leaves of the incomplete tile after them. CROSS JOIN keeps the levels the outer loop,
  -- so each node is one primary-key seek (the other order scans merkle_nodes: 20 ms at 1M events).
  SELECT RAISE(ABORT, 'STELE:CHECKPOINT_REFUSED:{"reason":"the tree at that size has another root"}')
   WHERE stele_checkpoint_part(NEW.payload, 'root') IS NOT (
           SELECT stele_merkle_root(part.start, part.level, part.hash)
             FROM (SELECT n.idx << n.level AS start, n.level AS level, n.hash AS hash
                     FROM merkle_levels AS l
                     CROSS JOIN merkle_nodes AS n
                       ON n.level = l.level AND n.idx = (stele_checkpoint_part(NEW.payload, 'size') >> l.level) - 1
                    WHERE l.level >= 4 AND (stele_checkpoint_part(NEW.payload, 'size') >> l.level) & 1 = 1
                   UNION ALL
                   SELECT sequence - 1, 0, stele_merkle_leaf(content_hash)
                     FROM events
                    WHERE sequence > stele_checkpoint_part(NEW.payload, 'size') - stele_checkpoint_part(NEW.payload, 'size') % 16
                      AND sequence <= stele_checkpoint_part(NEW.payload, 'size')) AS part);
END;
