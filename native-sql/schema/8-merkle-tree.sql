-- The stele/merkle/v1 tree over all events (TRANSPARENCY.md), kept in the file.
--
-- merkle_nodes holds the hash of every complete subtree of 16 leaves or more: (level, idx) is the
-- subtree of the 2^level leaves [idx * 2^level, (idx + 1) * 2^level), level 4 to 62; leaf
-- sequence - 1 is each event's. The four levels below are not kept (from schema 9): a subtree of
-- at most 16 leaves is recomputed from its events' content hashes, which is cheaper for the
-- append than a row per leaf and per small node, and costs a proof at most 16 reads more. A
-- complete subtree never changes once its last leaf is appended, so the rows are append-only like
-- events, and the root of every past size and every proof is a handful of reads. The rows are
-- derived data: the tree is a function of content_hash, which verification recomputes.
--
-- Functions registered by the writer (lib/sqlite/native-functions.ts):
--   stele_merkle_tile(sequence, content_hash)  aggregate: the hash of the 16 leaves of one tile,
--                                              given their events in any order; NULL unless
--                                              exactly the 16 of one tile
--   stele_merkle_node(left, right)             SHA-256(0x01 ‖ left ‖ right)

-- The text of a table is part of every file that has it, comments included: "0 = leaf" is how
-- schema 5 described the levels, kept so that upgraded files and new ones hold the same table.
CREATE TABLE merkle_nodes (
  level INTEGER NOT NULL,                         -- 0 = leaf
  idx   INTEGER NOT NULL,                         -- which subtree of that level, from 0
  hash  BLOB    NOT NULL,                         -- 32 bytes
  PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

-- The levels of the tree, for the check at the end of each append: 0..62 (2^63 leaves).
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

-- A right child closes its parent: node(left sibling, this). The parent's insert fires this
-- trigger again one level up, so one tile writes every node it completes (on average two).
-- That takes recursive_triggers ON, which every read-write connection of Stele sets; on a
-- connection without it the check at the end of events_merkle_tree refuses the append.
-- (A trigger may not use a CTE; a windowed INSERT … SELECT over the levels measured 5x slower.)
CREATE TRIGGER merkle_nodes_close_parent AFTER INSERT ON merkle_nodes
WHEN NEW.idx % 2 = 1
BEGIN
  INSERT INTO merkle_nodes (level, idx, hash)
  VALUES (NEW.level + 1, NEW.idx / 2,
          stele_merkle_node((SELECT hash FROM merkle_nodes WHERE level = NEW.level AND idx = NEW.idx - 1), NEW.hash));
END;

-- The append of every 16th event writes its tile, and through merkle_nodes_close_parent every
-- node it completes, in its own transaction. Then the highest node it completes (level = the
-- trailing zero bits of the sequence) must exist: levels 4 and 5 are written even without
-- recursive triggers.
CREATE TRIGGER events_merkle_tree AFTER INSERT ON events
WHEN NEW.sequence % 16 = 0
BEGIN
  INSERT INTO merkle_nodes (level, idx, hash)
  VALUES (4, NEW.sequence / 16 - 1,
          (SELECT stele_merkle_tile(sequence, content_hash) FROM events WHERE sequence BETWEEN NEW.sequence - 15 AND NEW.sequence));

  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:merkle_nodes')
    FROM (SELECT level FROM merkle_levels
           WHERE NEW.sequence % 64 = 0 AND (NEW.sequence >> level) & 1 = 1 ORDER BY level LIMIT 1) AS top
   WHERE NOT EXISTS (SELECT 1 FROM merkle_nodes WHERE level = top.level AND idx = (NEW.sequence >> top.level) - 1);
END;

-- A node row holds the hash of its subtree, recomputed here from its 16 events (a tile) or from
-- its two stored children (a node), and is written once. So whatever connection inserts a row,
-- it can only be the row the triggers above would write; a missing event or child, a wrong hash,
-- or an INSERT OR REPLACE of an existing node is refused. The functions return NULL for a
-- missing input, which no hash IS.
CREATE TRIGGER merkle_nodes_only_from_events BEFORE INSERT ON merkle_nodes
WHEN NEW.level NOT BETWEEN 4 AND 62 OR NEW.idx < 0
  OR NEW.hash IS NOT CASE
       WHEN NEW.level = 4
       THEN (SELECT stele_merkle_tile(sequence, content_hash) FROM events WHERE sequence BETWEEN NEW.idx * 16 + 1 AND NEW.idx * 16 + 16)
       ELSE stele_merkle_node((SELECT hash FROM merkle_nodes WHERE level = NEW.level - 1 AND idx = NEW.idx * 2),
                              (SELECT hash FROM merkle_nodes WHERE level = NEW.level - 1 AND idx = NEW.idx * 2 + 1))
     END
  OR EXISTS (SELECT 1 FROM merkle_nodes WHERE level = NEW.level AND idx = NEW.idx)
BEGIN
  SELECT RAISE(ABORT, 'STELE:APPEND_ONLY_VIOLATION:merkle_nodes');
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
