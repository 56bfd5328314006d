-- 005-merkle-tree: the stele/merkle/v1 tree over all events (TRANSPARENCY.md), kept in the file.
--
-- merkle_nodes holds the hash of every complete subtree: (level, idx) is the subtree of the
-- 2^level leaves [idx * 2^level, (idx + 1) * 2^level); level 0 holds the leaf hashes, leaf
-- sequence - 1 for each event. A complete subtree never changes once its last leaf is appended,
-- so the rows are append-only like events, and the root of every past size and every proof is
-- a handful of point reads (at most about 2 log2(n)). The rows are derived data: the tree is a
-- function of content_hash, which verification recomputes.
--
-- Functions registered by the writer (see lib/sqlite/native-functions.ts):
--   stele_merkle_leaf(content_hash)          SHA-256(0x00 ‖ 32 content-hash bytes)
--   stele_merkle_node(left, right)           SHA-256(0x01 ‖ left ‖ right)
--   stele_merkle_fold(content_hash, sibling) running aggregate: the node each left sibling closes

CREATE TABLE merkle_nodes (
  level INTEGER NOT NULL,                         -- 0 = leaf
  idx   INTEGER NOT NULL,                         -- which subtree of that level, from 0
  hash  BLOB    NOT NULL,                         -- 32 bytes
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- The levels a tree of up to 2^63 leaves can have, for the trigger below to join on: a trigger
-- may not use a (recursive) CTE to enumerate them.
CREATE TABLE merkle_levels (
  level INTEGER PRIMARY KEY
) STRICT;

INSERT INTO merkle_levels (level)
SELECT a.d * 8 + b.d
  FROM (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
        UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS a,
       (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
        UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS b
 WHERE a.d * 8 + b.d < 63;

-- The tree of the events a file already holds (a schema-4 file being upgraded): every leaf in
-- sequence order; each right child closes its parent. The writer migrates with
-- recursive_triggers ON, so the parent's insert fires this trigger again one level up.
CREATE TRIGGER merkle_nodes_build AFTER INSERT ON merkle_nodes
WHEN NEW.idx % 2 = 1
BEGIN
  INSERT INTO merkle_nodes (level, idx, hash)
  SELECT NEW.level + 1, NEW.idx / 2, stele_merkle_node(l.hash, NEW.hash)
    FROM merkle_nodes AS l
   WHERE l.level = NEW.level AND l.idx = NEW.idx - 1;
END;

INSERT INTO merkle_nodes (level, idx, hash)
SELECT 0, sequence - 1, stele_merkle_leaf(content_hash) FROM events ORDER BY sequence;

DROP TRIGGER merkle_nodes_build;

-- Each append writes its leaf and every node it completes, in its own transaction. Leaf i closes
-- the subtrees of levels 1..t, t the number of trailing zero bits of sequence = i + 1; the node of
-- level k + 1 is node(left sibling at level k, the node of level k just closed), the left sibling
-- being (k, (sequence >> k) - 2). One SELECT folds them lowest level first.
CREATE TRIGGER events_merkle_tree AFTER INSERT ON events
BEGIN
  INSERT INTO merkle_nodes (level, idx, hash)
  VALUES (0, NEW.sequence - 1, stele_merkle_leaf(NEW.content_hash));

  INSERT INTO merkle_nodes (level, idx, hash)
  SELECT v.level + 1, (NEW.sequence >> (v.level + 1)) - 1,
         stele_merkle_fold(NEW.content_hash, l.hash) OVER (ORDER BY v.level ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    FROM merkle_levels AS v
    JOIN merkle_nodes AS l ON l.level = v.level AND l.idx = (NEW.sequence >> v.level) - 2
   WHERE NEW.sequence % 2 = 0 AND (NEW.sequence & ((2 << v.level) - 1)) = 0
   ORDER BY v.level;
END;

-- A node row comes only from the trigger above, for the newest event: the next leaf, or a node
-- that leaf completes, with the hash recomputed here from the row or from its two children.
-- Anything else (a stray insert, INSERT OR REPLACE of an existing node) is refused.
CREATE TRIGGER merkle_nodes_only_from_events BEFORE INSERT ON merkle_nodes
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:merkle_nodes')
    FROM (SELECT max(sequence) AS sequence, content_hash FROM events) AS h
   WHERE h.sequence IS NULL
      OR NEW.level NOT BETWEEN 0 AND 62
      OR ((h.sequence >> NEW.level) << NEW.level) IS NOT h.sequence
      OR NEW.idx IS NOT (h.sequence >> NEW.level) - 1
      OR EXISTS (SELECT 1 FROM merkle_nodes WHERE level = NEW.level AND idx = NEW.idx)
      OR NEW.hash IS NOT CASE
           WHEN NEW.level = 0 THEN stele_merkle_leaf(h.content_hash)
           ELSE stele_merkle_node((SELECT hash FROM merkle_nodes WHERE level = NEW.level - 1 AND idx = NEW.idx * 2),
                                  (SELECT hash FROM merkle_nodes WHERE level = NEW.level - 1 AND idx = NEW.idx * 2 + 1))
         END;
END;

CREATE TRIGGER merkle_nodes_no_update BEFORE UPDATE ON merkle_nodes
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER merkle_nodes_no_delete BEFORE DELETE ON merkle_nodes
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;

CREATE TRIGGER merkle_levels_no_insert BEFORE INSERT ON merkle_levels
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:merkle_levels');
END;

CREATE TRIGGER merkle_levels_no_update BEFORE UPDATE ON merkle_levels
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:update');
END;

CREATE TRIGGER merkle_levels_no_delete BEFORE DELETE ON merkle_levels
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:delete');
END;
