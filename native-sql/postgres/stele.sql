-- Stele ledgers in PostgreSQL: the event rules of native-sql/schema/ (FORMAT.md, schema version 10)
-- in PL/pgSQL, for replicas that enforce them on every row they receive.
--
-- Run once per database, as a superuser, in a UTF8 database:
--
--   psql -v ON_ERROR_STOP=1 -d audit -f native-sql/postgres/stele.sql \
--        -c "SELECT stele.create_ledger('edge_berlin')"
--
-- (or installPostgresLedger(client, { ledger: 'edge_berlin' }) from TypeScript, which does both).
--
-- Layout: this file creates the schema `stele`, shared by every ledger of the database: the
-- encodings and hash of FORMAT.md under the names of the SQLite functions (stele_event_hash,
-- stele_signature_valid, ...), the verifier stele_verify(ledger), the registry of ledgers, and the
-- event triggers that refuse DDL on a ledger. stele.create_ledger(name) then creates ONE LEDGER
-- PER SCHEMA: the schema `name` holds the tables of FORMAT.md with the same columns (events,
-- ledger_meta, clock_drift_warnings, agent_keys, agent_key_revocations, event_types) and their
-- triggers, owned by a NOLOGIN role `<name>_owner`; `<name>_app` may SELECT and INSERT (events,
-- ledger_meta) and nothing else; `<name>_reader` may SELECT. Grant those roles to login roles.
--
-- A PostgreSQL ledger is a replica: rows arrive with every column as the primary stored them
-- and the triggers re-check each one (chain, hash, stream version, reserved streams,
-- halts, ceremonies, signatures), exactly as a replica file's triggers do (FORMAT.md, "Replicas
-- and promotion"): the authority timestamp is taken as given and require_signatures is left to
-- the primary. There is no append view and no promotion here.
--
-- Two sets of rules stay the primary's. The independent-witness rules of schema 6 (a ceremony
-- counts distinct public keys, witness keys do not change while halted, a key holds one role)
-- are enforced by the primary before a row reaches the copy, which re-checks the schema-4
-- ceremony rules (the current halt or head, a quorum of valid witness signatures). A stored
-- checkpoint ('$checkpoints', schema 10) is checked here for everything but its root: its
-- shape, one log key and origin for all of a ledger's checkpoints, a size below its own
-- sequence, a larger tree than the newest 'stele.checkpoint' before it (type 'stele.checkpoint')
-- or the text of an earlier 'stele.checkpoint' (type 'stele.checkpoint_cosigned'), and the log
-- key's signature. Its root at that size needs the Merkle tree, which a copy does not mirror:
-- the primary's trigger refused any other root before the row could be copied, and
-- verifyLedgerFile checks it again on a file restored from this copy (restoreFromPostgres).
--
-- Versions: this file installs version 10 (stele.ledgers.schema_version). It has no upgrade
-- path: a database that holds schema `stele` keeps its functions, and installPostgresLedger
-- only adds ledgers with them. A ledger of version 8 holds the rows of primaries of schema 8 and
-- 9 as before; a primary that stores checkpoints needs a ledger created by this version, in a
-- database without an older schema `stele`.
--
-- The boundary is every role but the owner and superusers: no setting stops a superuser. The
-- refusal triggers are ENABLE ALWAYS (session_replication_role = replica, as used by logical
-- replication apply workers and by pg_restore --disable-triggers, does not skip them), and the
-- event triggers refuse DDL on ledger schemas, so disabling a trigger, altering or dropping a
-- table needs a superuser who first drops or disables the event triggers. That is what
-- stele_verify(), heads held elsewhere and the SQLite primary catch.

BEGIN;

DO $$
BEGIN
  IF (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()) <> 'UTF8' THEN
    RAISE EXCEPTION 'stele: the database must use UTF8 (content hashes cover UTF-8 bytes)';
  END IF;
END $$;

CREATE SCHEMA stele;
COMMENT ON SCHEMA stele IS 'Stele: shared functions and registry of the ledgers in this database (native-sql/postgres/stele.sql)';
REVOKE ALL ON SCHEMA stele FROM PUBLIC;
GRANT USAGE ON SCHEMA stele TO PUBLIC;

-- The ledgers of this database. Written by create_ledger; DDL on a registered schema is refused.
CREATE TABLE stele.ledgers (
  name           text PRIMARY KEY,
  schema_version integer NOT NULL,     -- the SQLite schema version the triggers mirror (PRAGMA user_version)
  owner_role     text NOT NULL,
  app_role       text NOT NULL,
  reader_role    text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT ON stele.ledgers TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Encodings (FORMAT.md, "Content hash v1"): NULL = 00; integer = 01 + int64 big-endian;
-- text = 02 + uint32 big-endian length in UTF-8 bytes + the bytes as stored.
-- ---------------------------------------------------------------------------------------------

-- Whether a '$types' payload's taxonomy accepts `type`: an empty list accepts any type.
CREATE FUNCTION stele.type_allowed(types_payload text, type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN jsonb_array_length(types_payload::jsonb -> 'types') = 0 OR (types_payload::jsonb -> 'types') ? type;

CREATE FUNCTION stele.field_int(v bigint) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN v IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || int8send(v) END;

CREATE FUNCTION stele.field_text(v text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN v IS NULL THEN '\x00'::bytea
            ELSE '\x02'::bytea || int4send(octet_length(v)) || convert_to(v, 'UTF8') END;

-- Content hash v1 of the 14 hashed columns, in hash order: the SQLite writer's stele_event_hash.
-- The fields are spelled out rather than calls of field_int / field_text, and the function is
-- STABLE (as convert_to is), so that PostgreSQL inlines it into the trigger's expression: a SQL
-- function that is not inlined costs more than the hash itself.
CREATE FUNCTION stele.stele_event_hash(
  sequence bigint, event_id text, stream_id text, stream_version bigint, type text,
  payload text, payload_meta text, metadata text, metadata_meta text, agent_id text,
  signature text, local_timestamp bigint, authority_timestamp bigint, prev_hash text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN encode(sha256(
  '\x7374656c652f6576656e742f76310a'::bytea          -- 'stele/event/v1' || LF
  || CASE WHEN $1 IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || int8send($1) END
  || CASE WHEN $2 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($2)) || convert_to($2, 'UTF8') END
  || CASE WHEN $3 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($3)) || convert_to($3, 'UTF8') END
  || CASE WHEN $4 IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || int8send($4) END
  || CASE WHEN $5 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($5)) || convert_to($5, 'UTF8') END
  || CASE WHEN $6 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($6)) || convert_to($6, 'UTF8') END
  || CASE WHEN $7 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($7)) || convert_to($7, 'UTF8') END
  || CASE WHEN $8 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($8)) || convert_to($8, 'UTF8') END
  || CASE WHEN $9 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($9)) || convert_to($9, 'UTF8') END
  || CASE WHEN $10 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($10)) || convert_to($10, 'UTF8') END
  || CASE WHEN $11 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($11)) || convert_to($11, 'UTF8') END
  || CASE WHEN $12 IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || int8send($12) END
  || CASE WHEN $13 IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || int8send($13) END
  || CASE WHEN $14 IS NULL THEN '\x00'::bytea ELSE '\x02'::bytea || int4send(octet_length($14)) || convert_to($14, 'UTF8') END), 'hex');

-- Signable bytes (FORMAT.md, "Signable bytes"): what an agent signs.
CREATE FUNCTION stele.signable_bytes(
  event_id text, stream_id text, type text, payload text, payload_meta text, metadata text,
  metadata_meta text, agent_id text, local_timestamp bigint) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN '\x7374656c652f7369676e61626c652f76310a'::bytea   -- 'stele/signable/v1' || LF
  || stele.field_text(event_id) || stele.field_text(stream_id) || stele.field_text(type)
  || stele.field_text(payload) || stele.field_text(payload_meta) || stele.field_text(metadata)
  || stele.field_text(metadata_meta) || stele.field_text(agent_id) || stele.field_int(local_timestamp);

-- Clear-halt bytes (FORMAT.md, "Clear-halt bytes").
CREATE FUNCTION stele.clear_halt_bytes(halt_sequence bigint, halt_hash text, reason text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN convert_to('stele/ceremony/clear-halt/v1' || chr(10), 'UTF8')
  || stele.field_int(halt_sequence) || stele.field_text(halt_hash) || stele.field_text(reason);

-- Promotion bytes (FORMAT.md, "Replicas and promotion").
CREATE FUNCTION stele.promotion_bytes(replica_id text, head_sequence bigint, head_hash text, reason text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN convert_to('stele/ceremony/promote-replica/v1' || chr(10), 'UTF8')
  || stele.field_text(replica_id) || stele.field_int(head_sequence) || stele.field_text(head_hash)
  || stele.field_text(reason);

-- A JSON member as SQLite's json_extract hands it to the writer's JavaScript String(): a string
-- as itself, a missing member or null as 'null', a boolean as '1' / '0' (json_extract returns
-- integers for them), a number as its text. Used for ceremony reasons, which Stele always writes
-- as strings; other values are mirrored only as far as jsonb's text form agrees with SQLite's.
CREATE FUNCTION stele.js_string(v jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE jsonb_typeof(v)
         WHEN 'string' THEN v #>> '{}'
         WHEN 'boolean' THEN CASE WHEN v = 'true'::jsonb THEN '1' ELSE '0' END
         WHEN 'number' THEN v #>> '{}'
         WHEN 'null' THEN 'null'
         WHEN NULL THEN 'null'
         ELSE v::text END;

-- The text of a JSON member when it is a JSON string, else NULL (json_extract + typeof = 'text').
CREATE FUNCTION stele.json_text(v jsonb) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END;

-- ---------------------------------------------------------------------------------------------
-- ed25519 (FORMAT.md, "Keys and signatures as text"): plpython3u with PyNaCl (Debian:
-- postgresql-plpython3-15, python3-nacl) when both are installed. Otherwise these functions
-- refuse every call: a row that needs a signature or key check (a signed event, a key
-- registration, a ceremony, a stored checkpoint) is refused, and stele_verify() stops with the
-- same error, rather than being taken on trust. stele.crypto_available() says which case this
-- database is in.
-- ---------------------------------------------------------------------------------------------

DO $install_crypto$
DECLARE
  python boolean := false;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS plpython3u;
    EXECUTE $py$
      CREATE FUNCTION stele.ed25519_verify(public_key text, signature text, message bytea) RETURNS boolean
      LANGUAGE plpython3u IMMUTABLE PARALLEL SAFE AS $body$
        # Decodes like Node's Buffer.from(text, 'base64') after Stele's /^[A-Za-z0-9+/]*={0,2}$/:
        # padding optional, unused low bits of the last character ignored.
        if 'stele_ed25519' not in GD:
            import base64, re
            import nacl.signing
            pattern = re.compile(r'[A-Za-z0-9+/]*={0,2}')
            def decode(text):
                if not isinstance(text, str) or pattern.fullmatch(text) is None:
                    return None
                text = text.rstrip('=')
                if len(text) % 4 == 1:
                    text = text[:-1]
                return base64.b64decode(text + '=' * (-len(text) % 4))
            def verify(key, sig, msg):
                key = decode(key)
                if key is None or len(key) != 32:
                    return False
                if msg is None:
                    return True  # a key check only: stele_public_key_valid
                sig = decode(sig)
                if sig is None or len(sig) != 64:
                    return False
                try:
                    nacl.signing.VerifyKey(key).verify(bytes(msg), sig)
                    return True
                except Exception:
                    return False
            GD['stele_ed25519'] = verify
        return GD['stele_ed25519'](public_key, signature, message)
      $body$ $py$;
    -- A database whose Python lacks nacl fails here, and gets the refusing functions below.
    PERFORM stele.ed25519_verify('', '', NULL);
    python := true;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'stele: ed25519 is not available (%): signed events, key registrations, ceremonies and stored checkpoints will be refused', SQLERRM;
  END;
  IF NOT python THEN
    CREATE FUNCTION stele.ed25519_verify(public_key text, signature text, message bytea) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE AS $body$
    BEGIN
      RAISE EXCEPTION 'STELE:SIGNATURE_INVALID:{"reason":"ed25519 is not available in this database: install plpython3u and python3-nacl, then reinstall stele.sql"}';
    END $body$;
  END IF;
  EXECUTE format('CREATE FUNCTION stele.crypto_available() RETURNS boolean LANGUAGE sql IMMUTABLE RETURN %s', CASE WHEN python THEN 'true' ELSE 'false' END);
END $install_crypto$;

-- The SQLite writer's functions of the same names (FORMAT.md, "Append path and triggers").
CREATE FUNCTION stele.stele_public_key_valid(key text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce(stele.ed25519_verify(key, NULL, NULL), false);

CREATE FUNCTION stele.stele_signature_valid(
  key text, signature text, event_id text, stream_id text, type text, payload text,
  payload_meta text, metadata text, metadata_meta text, agent_id text, local_timestamp bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce(stele.ed25519_verify(key, signature, stele.signable_bytes(event_id, stream_id, type, payload,
  payload_meta, metadata, metadata_meta, agent_id, local_timestamp)), false);

CREATE FUNCTION stele.stele_clear_halt_signature_valid(key text, signature text, halt_sequence bigint, halt_hash text, reason text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce(stele.ed25519_verify(key, signature, stele.clear_halt_bytes(halt_sequence, halt_hash, reason)), false);

CREATE FUNCTION stele.stele_promotion_signature_valid(key text, signature text, replica_id text, head_sequence bigint, head_hash text, reason text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN coalesce(stele.ed25519_verify(key, signature, stele.promotion_bytes(replica_id, head_sequence, head_hash, reason)), false);

-- ---------------------------------------------------------------------------------------------
-- Stored checkpoints (schema 10, native-sql/schema/10-checkpoints.sql): a '$checkpoints' payload
-- is {"logKey": <C2SP Ed25519 vkey>, "note": <C2SP signed note whose text is a checkpoint>},
-- parsed here as lib/sqlite/stored-checkpoint.ts parses it for the primary's triggers.
-- ---------------------------------------------------------------------------------------------

-- The bytes of canonical base64 (padded, no unused bits set), else NULL: the primary's fromBase64.
CREATE FUNCTION stele.base64_canonical(v text) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF v ~ '^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' THEN
    -- PostgreSQL ignores unused bits: encoding the bytes again gives v back only when they are unset.
    IF translate(encode(decode(v, 'base64'), 'base64'), E'\n', '') = v THEN
      RETURN decode(v, 'base64');
    END IF;
  END IF;
  RETURN NULL;
END $$;

-- A C2SP key name: non-empty, no white space (JavaScript's \s), no '+', no control character.
CREATE FUNCTION stele.note_key_name(name text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN name <> '' AND name !~ '[\x01-\x20\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff+]';

-- A well-formed payload, parsed: the log key (its name, 4-byte key ID and 32-byte public key),
-- the checkpoint (origin, size, root) and its text, and the signature bytes (after the key ID) of
-- every line by the log key's name and ID.
CREATE TYPE stele.stored_checkpoint AS (
  log_key        text,
  key_name       text,
  key_id         bytea,
  public_key     bytea,
  origin         text,
  size           bigint,
  root           bytea,
  body           text,
  log_signatures bytea[]
);

-- The payload parsed, or NULL unless it is a JSON object with exactly logKey (an Ed25519 vkey
-- whose key ID is its own) and note (a signed note: no control character but newline, the text
-- before the last blank line, then 1 to 100 well-formed signature lines; its text a checkpoint
-- of at least one leaf). Whether the public key is a valid Ed25519 point is left to the
-- signature check: libsodium, strict as the primary is, verifies nothing under a key that is not,
-- so such a row is refused as unsigned where the primary calls it malformed. Nested IFs: PL/pgSQL
-- does not promise to stop at the first OR.
CREATE FUNCTION stele.stored_checkpoint(payload text) RETURNS stele.stored_checkpoint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  p jsonb;
  r stele.stored_checkpoint;
  plus integer;
  key bytea;
  note text;
  split integer;
  block text;
  lines text[];
  line text;
  space integer;
  sig bytea;
BEGIN
  BEGIN
    p := payload::jsonb;
  EXCEPTION WHEN data_exception THEN
    RETURN NULL;   -- not JSON, or JSON that text cannot hold (\u0000, a lone surrogate): not a checkpoint
  END;
  IF jsonb_typeof(p) IS DISTINCT FROM 'object' THEN
    RETURN NULL;
  END IF;
  IF (SELECT count(*) FROM jsonb_object_keys(p)) <> 2 OR jsonb_typeof(p -> 'logKey') IS DISTINCT FROM 'string'
     OR jsonb_typeof(p -> 'note') IS DISTINCT FROM 'string' THEN
    RETURN NULL;
  END IF;

  -- The vkey: <name>+<8 lowercase hex key ID>+base64(0x01 || public key), split at the first '+'.
  r.log_key := p ->> 'logKey';
  plus := position('+' in r.log_key);
  IF plus = 0 THEN
    RETURN NULL;
  END IF;
  r.key_name := substr(r.log_key, 1, plus - 1);
  IF NOT stele.note_key_name(r.key_name) OR substr(r.log_key, plus + 1, 8) !~ '^[0-9a-f]{8}$' OR substr(r.log_key, plus + 9, 1) <> '+' THEN
    RETURN NULL;
  END IF;
  key := stele.base64_canonical(substr(r.log_key, plus + 10));
  IF key IS NULL OR octet_length(key) <> 33 THEN
    RETURN NULL;
  END IF;
  IF get_byte(key, 0) <> 1 THEN
    RETURN NULL;
  END IF;
  r.key_id := decode(substr(r.log_key, plus + 1, 8), 'hex');
  r.public_key := substr(key, 2);
  IF r.key_id <> substr(sha256(convert_to(r.key_name, 'UTF8') || '\x0a01'::bytea || r.public_key), 1, 4) THEN
    RETURN NULL;
  END IF;

  -- The note: its text ends at the last blank line (lastIndexOf), signature lines follow.
  note := p ->> 'note';
  IF note ~ '[\x01-\x09\x0b-\x1f]' THEN
    RETURN NULL;
  END IF;
  split := position(E'\n\n' in reverse(note));
  IF split = 0 THEN
    RETURN NULL;
  END IF;
  split := length(note) - split - 1;   -- the 0-based offset of that blank line's first newline
  r.body := substr(note, 1, split + 1);
  block := substr(note, split + 3);
  IF length(block) < 2 OR right(block, 1) <> E'\n' THEN
    RETURN NULL;
  END IF;
  lines := string_to_array(left(block, -1), E'\n');
  IF cardinality(lines) > 100 THEN
    RETURN NULL;
  END IF;
  r.log_signatures := '{}';
  FOREACH line IN ARRAY lines LOOP
    IF left(line, 2) <> chr(8212) || ' ' THEN   -- an em dash and a space
      RETURN NULL;
    END IF;
    line := substr(line, 3);
    space := position(' ' in line);
    IF space = 0 THEN
      RETURN NULL;
    END IF;
    IF NOT stele.note_key_name(left(line, space - 1)) THEN
      RETURN NULL;
    END IF;
    sig := stele.base64_canonical(substr(line, space + 1));
    IF sig IS NULL OR octet_length(sig) < 5 THEN
      RETURN NULL;
    END IF;
    IF left(line, space - 1) = r.key_name AND substr(sig, 1, 4) = r.key_id THEN
      r.log_signatures := r.log_signatures || substr(sig, 5);
    END IF;
  END LOOP;

  -- The checkpoint: origin, size (decimal, no leading zero, at most 2^53 - 1), base64 root of 32
  -- bytes, then non-empty extension lines.
  lines := string_to_array(left(r.body, -1), E'\n');
  IF coalesce(cardinality(lines), 0) < 3 THEN
    RETURN NULL;
  END IF;
  r.origin := lines[1];
  IF r.origin = '' OR lines[2] !~ '^(0|[1-9][0-9]{0,15})$' THEN
    RETURN NULL;
  END IF;
  IF lines[2]::bigint > 9007199254740991 OR lines[2]::bigint < 1 THEN
    RETURN NULL;
  END IF;
  r.size := lines[2]::bigint;
  r.root := stele.base64_canonical(lines[3]);
  IF r.root IS NULL OR octet_length(r.root) <> 32 OR '' = ANY (lines[4:]) THEN
    RETURN NULL;
  END IF;
  RETURN r;
END $$;

-- True when the note carries exactly one line by the log key and it is that key's valid
-- signature of the checkpoint text (two lines by one key make the primary's verifyNote refuse the
-- note). Without ed25519 in this database, ed25519_verify refuses the call: the row is refused.
CREATE FUNCTION stele.stored_checkpoint_signed(cp stele.stored_checkpoint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE WHEN cardinality(cp.log_signatures) = 1 AND octet_length(cp.log_signatures[1]) = 64
            THEN coalesce(stele.ed25519_verify(translate(encode(cp.public_key, 'base64'), E'\n', ''),
                   translate(encode(cp.log_signatures[1], 'base64'), E'\n', ''), convert_to(cp.body, 'UTF8')), false)
            ELSE false END;

-- Every table of a ledger refuses UPDATE, DELETE and TRUNCATE (ENABLE ALWAYS, see create_ledger).
CREATE FUNCTION stele.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = 'STELE:APPEND_ONLY_VIOLATION:' || lower(TG_OP),
    DETAIL = json_build_object('table', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME)::text;
END $$;

CREATE TRIGGER ledgers_no_change BEFORE UPDATE OR DELETE ON stele.ledgers
  FOR EACH ROW EXECUTE FUNCTION stele.refuse_change();
CREATE TRIGGER ledgers_no_truncate BEFORE TRUNCATE ON stele.ledgers
  FOR EACH STATEMENT EXECUTE FUNCTION stele.refuse_change();
ALTER TABLE stele.ledgers ENABLE ALWAYS TRIGGER ledgers_no_change;
ALTER TABLE stele.ledgers ENABLE ALWAYS TRIGGER ledgers_no_truncate;

-- ---------------------------------------------------------------------------------------------
-- stele_verify(ledger): the chain check of FORMAT.md ("Verifying a ledger", steps 1-4 and the
-- signature replay of step 7), inside PostgreSQL, for an auditor with only psql:
--
--   SELECT * FROM stele.stele_verify('edge_berlin');
--
-- One row: ok, the rows checked before the first fault, and that fault's sequence, reason
-- (sequence_gap, prev_hash, stream_version, content_hash, signature, checkpoint, as
-- verifyLedgerFile names them), expected and actual values and a sentence for signature and
-- checkpoint faults. `up_to` claims that rows up to it exist (a truncated tail is a sequence_gap).
-- Once the chain and the signatures have passed, the stored checkpoints are replayed as
-- verifyLedgerFile's step 10 replays them (lib/verify/checkpoint-rules.ts), all but the root
-- (this copy keeps no Merkle tree): a checkpoint forged behind the guards needs the log key.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION stele.stele_verify(ledger text, up_to bigint DEFAULT NULL)
RETURNS TABLE (ok boolean, checked bigint, sequence bigint, reason text, expected text, actual text, detail text)
LANGUAGE plpgsql STABLE AS $verify$
DECLARE
  chain record;
  sig record;
  head bigint;
  c record;
  cp stele.stored_checkpoint;
  first_key text;
  first_origin text;
  newest_size bigint := 0;
  bodies text[] := '{}';
  why text;
  want text;
  got text;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM stele.ledgers AS l WHERE l.name = ledger) THEN
    RAISE EXCEPTION 'STELE:NOT_A_LEDGER:{"ledger":%}', to_json(ledger);
  END IF;
  -- Steps 1-4, set-based: row k of the ordered table must have sequence k, link to row k-1's
  -- hash, carry its stream's count of earlier rows as version, and hash to its content_hash.
  -- Before the first fault these equal the sequential walk's expectations, so the first row
  -- failing any of them is the fault a walk stops at, with the walk's reason.
  EXECUTE format($q$
    WITH e AS (
      SELECT e.*, row_number() OVER w AS k,
             coalesce(lag(e.content_hash) OVER w, repeat('0', 64)) AS link,
             row_number() OVER (PARTITION BY e.stream_id ORDER BY e.sequence) - 1 AS version
        FROM %1$I.events AS e WINDOW w AS (ORDER BY e.sequence))
    SELECT k, e.sequence AS seq,
           CASE WHEN e.sequence <> k THEN 'sequence_gap'
                WHEN e.prev_hash IS DISTINCT FROM link THEN 'prev_hash'
                WHEN e.stream_version <> version THEN 'stream_version'
                ELSE 'content_hash' END AS why,
           CASE WHEN e.sequence <> k THEN k::text
                WHEN e.prev_hash IS DISTINCT FROM link THEN link
                WHEN e.stream_version <> version THEN version::text
                ELSE e.content_hash END AS want,
           CASE WHEN e.sequence <> k THEN e.sequence::text
                WHEN e.prev_hash IS DISTINCT FROM link THEN e.prev_hash
                WHEN e.stream_version <> version THEN e.stream_version::text
                ELSE stele.stele_event_hash(e.sequence, e.event_id, e.stream_id, e.stream_version, e.type,
                       e.payload, e.payload_meta, e.metadata, e.metadata_meta, e.agent_id, e.signature,
                       e.local_timestamp, e.authority_timestamp, e.prev_hash) END AS got
      FROM e
     WHERE e.sequence <> k OR e.prev_hash IS DISTINCT FROM link OR e.stream_version <> version
        OR e.content_hash IS DISTINCT FROM stele.stele_event_hash(e.sequence, e.event_id, e.stream_id,
             e.stream_version, e.type, e.payload, e.payload_meta, e.metadata, e.metadata_meta, e.agent_id,
             e.signature, e.local_timestamp, e.authority_timestamp, e.prev_hash)
     ORDER BY e.sequence LIMIT 1 $q$, ledger) INTO chain;

  -- Step 7: each signed row before that fault against the keys the chain itself registered
  -- before it (first registration of a pair wins) and had not revoked before it, as
  -- lib/verify-worker.ts replays them; the key tables are not trusted.
  EXECUTE format($q$
    WITH reg AS (
      SELECT DISTINCT ON (a, kid) r.sequence AS at, a, kid, stele.json_text(p -> 'publicKey') AS pk,
             stele.json_text(p -> 'role') AS role
        FROM %1$I.events AS r, LATERAL (SELECT r.payload::jsonb AS p) AS j,
             LATERAL (SELECT stele.json_text(p -> 'agentId') AS a, stele.json_text(p -> 'keyId') AS kid) AS ids
       WHERE r.stream_id = '$agents' AND r.type = 'stele.agent_key_registered' AND a IS NOT NULL AND kid IS NOT NULL
         AND stele.json_text(p -> 'publicKey') IS NOT NULL AND stele.json_text(p -> 'role') IS NOT NULL
       ORDER BY a, kid, r.sequence),
    rev AS (
      SELECT v.sequence AS at, stele.json_text(v.payload::jsonb -> 'agentId') AS a, stele.json_text(v.payload::jsonb -> 'keyId') AS kid
        FROM %1$I.events AS v WHERE v.stream_id = '$agents' AND v.type = 'stele.agent_key_revoked'),
    signed AS (
      SELECT e.*,
             (SELECT array_agg(reg.pk) FILTER (WHERE NOT EXISTS (SELECT 1 FROM rev WHERE rev.a = reg.a AND rev.kid = reg.kid
                                                                   AND rev.at > reg.at AND rev.at < e.sequence))
                FROM reg WHERE reg.a = e.agent_id AND reg.role = 'agent' AND reg.at < e.sequence) AS active,
             (SELECT count(*) FROM reg WHERE reg.a = e.agent_id AND reg.role = 'agent' AND reg.at < e.sequence) AS known
        FROM %1$I.events AS e
       WHERE (e.agent_id IS NOT NULL OR e.signature IS NOT NULL) AND e.sequence < $1)
    SELECT s.sequence AS seq,
           CASE WHEN s.agent_id IS NULL OR s.signature IS NULL THEN 'agent_id and signature must be set together'
                WHEN s.known = 0 THEN format('no agent key of %%L was registered before this event', s.agent_id)
                WHEN coalesce(cardinality(s.active), 0) = 0 THEN format('every key of %%L was revoked before this event', s.agent_id)
                ELSE format('the signature does not verify against any active key of %%L', s.agent_id) END AS why
      FROM signed AS s
     WHERE s.agent_id IS NULL OR s.signature IS NULL OR s.known = 0 OR coalesce(cardinality(s.active), 0) = 0
        OR NOT EXISTS (SELECT 1 FROM unnest(s.active) AS k(pk)
                        WHERE stele.stele_signature_valid(k.pk, s.signature, s.event_id, s.stream_id, s.type, s.payload,
                              s.payload_meta, s.metadata, s.metadata_meta, s.agent_id, s.local_timestamp))
     ORDER BY s.sequence LIMIT 1 $q$, ledger) INTO sig USING coalesce(chain.seq, 9223372036854775807);

  EXECUTE format('SELECT coalesce(max(sequence), 0) FROM %I.events', ledger) INTO head;
  IF sig.seq IS NOT NULL THEN
    RETURN QUERY SELECT false, sig.seq - 1, sig.seq, 'signature'::text, NULL::text, NULL::text, sig.why;
  ELSIF chain.seq IS NOT NULL THEN
    RETURN QUERY SELECT false, chain.k - 1, CASE WHEN chain.why = 'sequence_gap' THEN chain.k ELSE chain.seq END,
                        chain.why, chain.want, chain.got, NULL::text;
  ELSIF up_to IS NOT NULL AND up_to > head THEN
    RETURN QUERY SELECT false, head, head + 1, 'sequence_gap'::text, (head + 1)::text, NULL::text, NULL::text;
  ELSE
    FOR c IN EXECUTE format($q$SELECT e.sequence, e.type, e.payload, e.payload_meta FROM %1$I.events AS e
                                WHERE e.stream_id = '$checkpoints' ORDER BY e.sequence$q$, ledger) LOOP
      cp := CASE WHEN c.payload_meta IS NULL THEN stele.stored_checkpoint(c.payload) END;
      want := NULL;
      got := NULL;
      IF cp.size IS NULL THEN
        why := 'a $checkpoints payload must be {"logKey": <Ed25519 vkey>, "note": <a signed checkpoint of at least one event>}';
      ELSE
        first_key := coalesce(first_key, cp.log_key);
        first_origin := coalesce(first_origin, cp.origin);
        IF cp.log_key <> first_key THEN
          SELECT 'another log key than the ledger''s first checkpoint', first_key, cp.log_key INTO why, want, got;
        ELSIF cp.origin <> first_origin THEN
          SELECT 'another origin than the ledger''s first checkpoint', first_origin, cp.origin INTO why, want, got;
        ELSIF cp.size >= c.sequence THEN
          SELECT 'a checkpoint covers only the events before it', c.sequence - 1, cp.size INTO why, want, got;
        ELSIF c.type IS DISTINCT FROM 'stele.checkpoint_cosigned' AND cp.size <= newest_size THEN
          SELECT 'a tree no larger than the newest checkpoint', newest_size + 1, cp.size INTO why, want, got;
        ELSIF c.type = 'stele.checkpoint_cosigned' AND NOT cp.body = ANY (bodies) THEN
          why := 'cosignatures of a checkpoint that is not stored';
        ELSIF NOT stele.stored_checkpoint_signed(cp) THEN
          why := 'the note has no valid signature by its log key';
        END IF;
      END IF;
      IF why IS NOT NULL THEN
        RETURN QUERY SELECT false, c.sequence - 1, c.sequence, 'checkpoint'::text, want, got, why;
        RETURN;
      END IF;
      IF c.type IS DISTINCT FROM 'stele.checkpoint_cosigned' THEN
        bodies := bodies || cp.body;
        newest_size := cp.size;
      END IF;
    END LOOP;
    RETURN QUERY SELECT true, head, NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::text;
  END IF;
END $verify$;

-- ---------------------------------------------------------------------------------------------
-- DDL guard: no CREATE / ALTER / DROP of anything in a registered ledger's schema (or of the
-- schema itself, or of schema stele), from any role, superusers included, until a superuser
-- drops or disables these event triggers. ALTER TABLE ... DISABLE TRIGGER is such DDL.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION stele.is_guarded(schema_name text) RETURNS boolean
LANGUAGE sql STABLE
RETURN schema_name = 'stele' OR EXISTS (SELECT 1 FROM stele.ledgers WHERE name = schema_name);

CREATE FUNCTION stele.refuse_ddl() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    -- Rules and policies report no schema of their own: take their table's.
    IF stele.is_guarded(c.schema_name)
       OR (c.object_type = 'schema' AND stele.is_guarded(c.object_identity))
       OR (c.classid = 'pg_rewrite'::regclass AND stele.is_guarded(
             (SELECT n.nspname FROM pg_rewrite AS w JOIN pg_class AS t ON t.oid = w.ev_class JOIN pg_namespace AS n ON n.oid = t.relnamespace WHERE w.oid = c.objid)))
       OR (c.classid = 'pg_policy'::regclass AND stele.is_guarded(
             (SELECT n.nspname FROM pg_policy AS y JOIN pg_class AS t ON t.oid = y.polrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace WHERE y.oid = c.objid))) THEN
      RAISE EXCEPTION USING MESSAGE = 'STELE:APPEND_ONLY_VIOLATION:ddl',
        DETAIL = json_build_object('command', c.command_tag, 'object', c.object_identity)::text;
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION stele.refuse_drop() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  d record;
BEGIN
  FOR d IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    IF stele.is_guarded(d.schema_name)
       OR (d.object_type = 'schema' AND stele.is_guarded(d.object_name)) THEN
      RAISE EXCEPTION USING MESSAGE = 'STELE:APPEND_ONLY_VIOLATION:ddl',
        DETAIL = json_build_object('command', tg_tag, 'object', d.object_identity)::text;
    END IF;
  END LOOP;
END $$;


-- ---------------------------------------------------------------------------------------------
-- create_ledger(name): one ledger, in a schema of its own. As a superuser:
--   SELECT stele.create_ledger('edge_berlin');
-- Roles default to <name>_owner (NOLOGIN, owns everything), <name>_app (SELECT + INSERT),
-- <name>_reader (SELECT); they are created when missing.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION stele.create_ledger(ledger text, owner_role text DEFAULT NULL, app_role text DEFAULT NULL, reader_role text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $create$
DECLARE
  o text := coalesce(owner_role, ledger || '_owner');
  a text := coalesce(app_role, ledger || '_app');
  r text := coalesce(reader_role, ledger || '_reader');
  role_name text;
  caller_path text := current_setting('search_path');
BEGIN
  IF ledger IS NULL OR ledger !~ '^[a-z_][a-z0-9_]{0,47}$' OR ledger IN ('stele', 'public', 'information_schema') OR ledger LIKE 'pg\_%' THEN
    RAISE EXCEPTION 'stele: a ledger name is a lowercase SQL identifier (letters, digits, _; at most 48), not a system schema: %', ledger;
  END IF;
  IF EXISTS (SELECT 1 FROM stele.ledgers WHERE name = ledger) OR to_regnamespace(quote_ident(ledger)) IS NOT NULL THEN
    RAISE EXCEPTION 'stele: schema % exists already; a ledger gets a new schema', ledger;
  END IF;
  FOREACH role_name IN ARRAY ARRAY[o, a, r] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
    END IF;
  END LOOP;
  EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', ledger, o);
  -- Every object below is created by, and owned by, the NOLOGIN owner; functions keep this
  -- search_path (SET ... FROM CURRENT), so they name the ledger's tables without a schema.
  PERFORM set_config('search_path', format('%I, stele, pg_catalog, pg_temp', ledger), true);
  EXECUTE format('SET LOCAL ROLE %I', o);
  EXECUTE $ledger$
    CREATE TABLE ledger_meta (
      key   text COLLATE "C" PRIMARY KEY,
      value text NOT NULL
    );
    INSERT INTO ledger_meta (key, value) VALUES
      ('format', 'stele'),
      ('event_hash', 'stele/event/v1'),
      ('created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
      ('witness_quorum', '2'),
      ('replica_id', gen_random_uuid()::text);

    -- FORMAT.md "events", the same 15 columns in the same order. Text is compared bytewise ("C").
    CREATE TABLE events (
      sequence            bigint PRIMARY KEY,
      -- Deferred, so that a duplicate id reaches events_check_inserted and is named as such.
      event_id            text COLLATE "C" NOT NULL UNIQUE DEFERRABLE INITIALLY DEFERRED,
      stream_id           text COLLATE "C" NOT NULL,
      stream_version      bigint NOT NULL,
      type                text COLLATE "C" NOT NULL,
      payload             text,
      payload_meta        text,
      metadata            text,
      metadata_meta       text,
      agent_id            text COLLATE "C",
      signature           text,
      local_timestamp     bigint NOT NULL,
      authority_timestamp bigint NOT NULL,
      prev_hash           text COLLATE "C" NOT NULL,
      content_hash        text COLLATE "C" NOT NULL,
      UNIQUE (stream_id, stream_version)
    );

    CREATE TABLE clock_drift_warnings (
      sequence            bigint PRIMARY KEY REFERENCES events (sequence),
      local_timestamp     bigint NOT NULL,
      authority_timestamp bigint NOT NULL,
      drift_ms            bigint NOT NULL,
      threshold_ms        bigint NOT NULL
    );

    CREATE TABLE agent_keys (
      agent_id            text COLLATE "C" NOT NULL,
      key_id              text COLLATE "C" NOT NULL,
      public_key          text NOT NULL,
      role                text NOT NULL CHECK (role IN ('agent', 'witness')),
      -- Deferred: the row is derived in the event's BEFORE INSERT trigger, before the event exists.
      registered_sequence bigint NOT NULL UNIQUE REFERENCES events (sequence) DEFERRABLE INITIALLY DEFERRED,
      PRIMARY KEY (agent_id, key_id)
    );

    CREATE TABLE agent_key_revocations (
      agent_id         text COLLATE "C" NOT NULL,
      key_id           text COLLATE "C" NOT NULL,
      revoked_sequence bigint NOT NULL UNIQUE REFERENCES events (sequence) DEFERRABLE INITIALLY DEFERRED,
      reason           text NOT NULL,
      PRIMARY KEY (agent_id, key_id),
      FOREIGN KEY (agent_id, key_id) REFERENCES agent_keys (agent_id, key_id)
    );

    -- The layout of FORMAT.md; from schema 8 the taxonomy in force is read from the $types rows.
    CREATE TABLE event_types (type text COLLATE "C" PRIMARY KEY);

    -- FORMAT.md "replica_mode": one row while this copy is an unpromoted replica.
    CREATE VIEW replica_mode AS
    SELECT m.value AS replica_id FROM ledger_meta AS m
     WHERE m.key = 'replica_id'
       AND NOT EXISTS (SELECT 1 FROM events AS e
                        WHERE e.stream_id = '$replication' AND e.type = 'stele.replica_promoted'
                          AND stele.json_text(e.payload::jsonb -> 'replicaId') = m.value);

    -- The guards of native-sql/001-004 on `events`. Two layers, so that a bulk copy pays per row
    -- only for what needs a row at a time:
    --  * events_before_insert, FOR EACH ROW, only for rows in a '$' stream or claiming an agent:
    --    replication, reserved streams, signature, in the order SQLite runs them, and the key
    --    tables derived from '$agents' rows (so the next row of the same INSERT sees them);
    --  * events_check_inserted, once per statement, over the inserted rows as a set (transition
    --    table): known type, require_signatures, not halted, then the chain (sequence, prev_hash,
    --    event_id, stream_version, content_hash), reporting the lowest failing sequence with the
    --    first failing rule of that row.
    -- Appends are serialised by a transaction-scoped advisory lock on this table, taken by
    -- events_lock_appends before the statement's first row; with READ COMMITTED every statement
    -- of the triggers sees every committed row, so concurrent inserters queue and the second one
    -- sees the first one's rows (REPEATABLE READ would read an old head: refused). No "head" row
    -- is updated per append. Unlike SQLite, rows of one INSERT are checked as a set ordered by
    -- sequence, so their order within the statement does not matter, and a '$'/signed row's own
    -- rules are reported before an earlier row's chain fault.
    CREATE FUNCTION events_lock_appends() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    BEGIN
      IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'stele: appends need READ COMMITTED isolation, not %', current_setting('transaction_isolation')
          USING ERRCODE = 'invalid_transaction_state';
      END IF;
      PERFORM pg_advisory_xact_lock(1400136044, TG_RELID::integer);   -- 1400136044 = 'Stel'
      RETURN NULL;
    END $fn$;

    CREATE FUNCTION events_before_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
      p jsonb;
      halt record;
      valid integer;
      quorum integer;
      cp stele.stored_checkpoint;
      earlier record;
      newest_size bigint;
      raise_detail text := '{"sequence":' || NEW.sequence || '}';
    BEGIN
      SELECT h.sequence, h.type, h.content_hash INTO halt FROM events AS h
       WHERE h.stream_id = '$halt' ORDER BY h.stream_version DESC LIMIT 1;
      -- A '$checkpoints' payload is parsed by stele.stored_checkpoint, which refuses one that is not JSON.
      IF NEW.stream_id LIKE '$%' AND NEW.stream_id NOT IN ('$default', '$checkpoints') THEN
        p := NEW.payload::jsonb;
      END IF;

      -- checkpoint_rules (schema 10), first, as SQLite runs them (FORMAT.md "Precedence"). Every
      -- rule but the root at the checkpoint's size, which needs the Merkle tree this copy does
      -- not keep (the primary refused another root before the row could reach the copy).
      IF NEW.stream_id = '$checkpoints' THEN
        cp := CASE WHEN NEW.payload_meta IS NULL THEN stele.stored_checkpoint(NEW.payload) END;
        IF cp.size IS NULL THEN
          RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"note"}' USING DETAIL = raise_detail;
        END IF;
        SELECT c.log_key, c.origin INTO earlier FROM events AS e, stele.stored_checkpoint(e.payload) AS c
         WHERE e.stream_id = '$checkpoints' ORDER BY e.stream_version LIMIT 1;
        IF FOUND AND (earlier.log_key IS DISTINCT FROM cp.log_key OR earlier.origin IS DISTINCT FROM cp.origin) THEN
          RAISE EXCEPTION 'STELE:CHECKPOINT_REFUSED:{"reason":"another log key or origin than the first checkpoint of this ledger"}' USING DETAIL = raise_detail;
        END IF;
        IF cp.size >= NEW.sequence THEN
          RAISE EXCEPTION 'STELE:CHECKPOINT_REFUSED:{"reason":"a checkpoint covers only the events before it"}' USING DETAIL = raise_detail;
        END IF;
        -- The newest 'stele.checkpoint' has the largest size so far: each was larger than the one before.
        IF NEW.type = 'stele.checkpoint' THEN
          SELECT c.size INTO newest_size FROM events AS e, stele.stored_checkpoint(e.payload) AS c
           WHERE e.stream_id = '$checkpoints' AND e.type = 'stele.checkpoint' ORDER BY e.stream_version DESC LIMIT 1;
          IF cp.size <= newest_size THEN
            RAISE EXCEPTION 'STELE:CHECKPOINT_REFUSED:{"reason":"a tree no larger than the newest checkpoint"}' USING DETAIL = raise_detail;
          END IF;
        END IF;
        -- Cosignatures repeat the text of a stored 'stele.checkpoint'; starts_with spares parsing the other notes.
        IF NEW.type = 'stele.checkpoint_cosigned' THEN
          IF NOT EXISTS (SELECT 1 FROM events AS e
                          WHERE e.stream_id = '$checkpoints' AND e.type = 'stele.checkpoint'
                            AND starts_with(e.payload::jsonb ->> 'note', cp.body)
                            AND (stele.stored_checkpoint(e.payload)).body = cp.body) THEN
            RAISE EXCEPTION 'STELE:CHECKPOINT_REFUSED:{"reason":"cosignatures of a checkpoint that is not stored"}' USING DETAIL = raise_detail;
          END IF;
        END IF;
        IF NOT stele.stored_checkpoint_signed(cp) THEN
          RAISE EXCEPTION 'STELE:CHECKPOINT_REFUSED:{"reason":"the note has no valid signature by its log key"}' USING DETAIL = raise_detail;
        END IF;
      END IF;

      -- promotion_rules
      IF NEW.stream_id = '$replication' THEN
        IF NEW.type IS DISTINCT FROM 'stele.replica_promoted' THEN
          RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"type"}' USING DETAIL = raise_detail;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM replica_mode) THEN
          RAISE EXCEPTION 'STELE:CEREMONY_REFUSED:{"reason":"only an unpromoted replica can be promoted"}' USING DETAIL = raise_detail;
        END IF;
        IF jsonb_typeof(p -> 'headSequence') IS DISTINCT FROM 'number' OR (p ->> 'headSequence')::numeric <> NEW.sequence - 1
           OR stele.json_text(p -> 'headHash') IS DISTINCT FROM NEW.prev_hash
           OR jsonb_typeof(p -> 'replicaId') IS DISTINCT FROM 'string' THEN
          RAISE EXCEPTION 'STELE:CEREMONY_REFUSED:{"reason":"the ceremony names another head"}' USING DETAIL = raise_detail;
        END IF;
        SELECT count(DISTINCT k.agent_id) INTO valid
          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p -> 'witnesses') = 'array' THEN p -> 'witnesses' ELSE '[]' END) AS s(w)
          JOIN agent_keys AS k ON k.agent_id = stele.json_text(s.w -> 'witnessId') AND k.role = 'witness'
         WHERE NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
           AND stele.stele_promotion_signature_valid(k.public_key, stele.json_text(s.w -> 'signature'),
                 p ->> 'replicaId', NEW.sequence - 1, NEW.prev_hash, stele.js_string(p -> 'reason'));
        SELECT value::integer INTO quorum FROM ledger_meta WHERE key = 'witness_quorum';
        IF valid < quorum THEN
          RAISE EXCEPTION 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid witness signatures"}' USING DETAIL = raise_detail;
        END IF;
      END IF;

      -- reserved_stream_rules
      IF NEW.stream_id IN ('$agents', '$halt') OR (NEW.stream_id LIKE '$%' AND NEW.stream_id NOT IN ('$default', '$replication')) THEN
        IF NOT ((NEW.stream_id = '$agents' AND NEW.type IN ('stele.agent_key_registered', 'stele.agent_key_revoked'))
             OR (NEW.stream_id = '$halt' AND NEW.type IN ('stele.halted', 'stele.halt_cleared'))
             OR (NEW.stream_id = '$types' AND NEW.type = 'stele.event_types_set')
             OR (NEW.stream_id = '$checkpoints' AND NEW.type IN ('stele.checkpoint', 'stele.checkpoint_cosigned'))) THEN
          RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"type"}' USING DETAIL = raise_detail;
        END IF;
        -- event_types_rules (schema 8): the whole taxonomy, non-empty strings in strictly
        -- ascending byte order. Nested IFs: PL/pgSQL does not promise to stop at the first OR.
        IF NEW.stream_id = '$types' THEN
          IF NEW.payload_meta IS NOT NULL OR jsonb_typeof(p) IS DISTINCT FROM 'object' OR jsonb_typeof(p -> 'types') IS DISTINCT FROM 'array'
             OR (SELECT count(*) FROM jsonb_object_keys(p)) <> 1 THEN
            RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"types"}' USING DETAIL = raise_detail;
          END IF;
          IF EXISTS (SELECT 1 FROM jsonb_array_elements(p -> 'types') AS t(v) WHERE jsonb_typeof(t.v) <> 'string' OR t.v = '""'::jsonb) THEN
            RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"types"}' USING DETAIL = raise_detail;
          END IF;
          IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(p -> 'types') WITH ORDINALITY AS a(v, i)
                       JOIN jsonb_array_elements_text(p -> 'types') WITH ORDINALITY AS b(v, i) ON b.i = a.i + 1
                      WHERE b.v COLLATE "C" <= a.v COLLATE "C") THEN
            RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"types"}' USING DETAIL = raise_detail;
          END IF;
        END IF;
        IF NEW.type = 'stele.agent_key_registered' THEN
          IF NOT stele.stele_public_key_valid(stele.json_text(p -> 'publicKey')) THEN
            RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"publicKey"}' USING DETAIL = raise_detail;
          END IF;
          IF coalesce(stele.json_text(p -> 'role') IN ('agent', 'witness'), false) = false THEN
            RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"role"}' USING DETAIL = raise_detail;
          END IF;
        END IF;
        IF NEW.type IN ('stele.agent_key_registered', 'stele.agent_key_revoked')
           AND (stele.json_text(p -> 'agentId') IS NULL OR stele.json_text(p -> 'keyId') IS NULL) THEN
          RAISE EXCEPTION 'STELE:INVALID_EVENT:{"field":"agentId"}' USING DETAIL = raise_detail;
        END IF;
        IF NEW.type = 'stele.agent_key_registered'
           AND EXISTS (SELECT 1 FROM agent_keys WHERE agent_id = p ->> 'agentId' AND key_id = p ->> 'keyId') THEN
          RAISE EXCEPTION 'STELE:DUPLICATE_AGENT_KEY' USING DETAIL = raise_detail;
        END IF;
        IF NEW.type = 'stele.agent_key_revoked' THEN
          IF NOT EXISTS (SELECT 1 FROM agent_keys WHERE agent_id = p ->> 'agentId' AND key_id = p ->> 'keyId') THEN
            RAISE EXCEPTION 'STELE:UNKNOWN_AGENT' USING DETAIL = raise_detail;
          END IF;
          IF EXISTS (SELECT 1 FROM agent_key_revocations WHERE agent_id = p ->> 'agentId' AND key_id = p ->> 'keyId') THEN
            RAISE EXCEPTION 'STELE:AGENT_KEY_REVOKED' USING DETAIL = raise_detail;
          END IF;
        END IF;
        IF NEW.type = 'stele.halt_cleared' THEN
          IF halt.type IS DISTINCT FROM 'stele.halted' THEN
            RAISE EXCEPTION 'STELE:NOT_HALTED' USING DETAIL = raise_detail;
          END IF;
          IF jsonb_typeof(p -> 'haltSequence') IS DISTINCT FROM 'number' OR (p ->> 'haltSequence')::numeric <> halt.sequence THEN
            RAISE EXCEPTION 'STELE:CEREMONY_REFUSED:{"reason":"the ceremony names another halt"}' USING DETAIL = raise_detail;
          END IF;
          SELECT count(DISTINCT k.agent_id) INTO valid
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p -> 'witnesses') = 'array' THEN p -> 'witnesses' ELSE '[]' END) AS s(w)
            JOIN agent_keys AS k ON k.agent_id = stele.json_text(s.w -> 'witnessId') AND k.role = 'witness'
           WHERE NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
             AND stele.stele_clear_halt_signature_valid(k.public_key, stele.json_text(s.w -> 'signature'),
                   halt.sequence, halt.content_hash, stele.js_string(p -> 'reason'));
          SELECT value::integer INTO quorum FROM ledger_meta WHERE key = 'witness_quorum';
          IF valid < quorum THEN
            RAISE EXCEPTION 'STELE:CEREMONY_REFUSED:{"reason":"not enough valid witness signatures"}' USING DETAIL = raise_detail;
          END IF;
        END IF;
      END IF;

      -- signature_rules and required signatures (require_signatures is the primary's to apply while this is a replica)
      IF NEW.signature IS NOT NULL OR NEW.agent_id IS NOT NULL THEN   -- unsigned rows: events_check_inserted
        IF NEW.signature IS NULL OR NEW.agent_id IS NULL THEN
          RAISE EXCEPTION 'STELE:SIGNATURE_REQUIRED' USING DETAIL = raise_detail;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM agent_keys WHERE agent_id = NEW.agent_id AND role = 'agent') THEN
          RAISE EXCEPTION 'STELE:UNKNOWN_AGENT' USING DETAIL = raise_detail;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM agent_keys AS k WHERE k.agent_id = NEW.agent_id AND k.role = 'agent'
                          AND NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)) THEN
          RAISE EXCEPTION 'STELE:AGENT_KEY_REVOKED' USING DETAIL = raise_detail;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM agent_keys AS k WHERE k.agent_id = NEW.agent_id AND k.role = 'agent'
                          AND NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)
                          AND stele.stele_signature_valid(k.public_key, NEW.signature, NEW.event_id, NEW.stream_id, NEW.type,
                                NEW.payload, NEW.payload_meta, NEW.metadata, NEW.metadata_meta, NEW.agent_id, NEW.local_timestamp)) THEN
          RAISE EXCEPTION 'STELE:SIGNATURE_INVALID' USING DETAIL = raise_detail;
        END IF;
      END IF;

      -- The key tables change here, not in an AFTER trigger: AFTER ROW triggers run at the end of
      -- the statement, and the next row of a multi-row INSERT must already see this key (or its
      -- revocation), as it does in SQLite.
      IF NEW.stream_id = '$agents' THEN
        PERFORM apply_key_event(NEW.sequence, NEW.type, p);
      END IF;
      RETURN NEW;
    END $fn$;

    -- events_apply_key_registration, events_apply_key_revocation, as the owner (the app role
    -- cannot write the key tables).
    CREATE FUNCTION apply_key_event(sequence bigint, type text, p jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
    BEGIN
      IF type = 'stele.agent_key_registered' THEN
        INSERT INTO agent_keys (agent_id, key_id, public_key, role, registered_sequence)
        VALUES (p ->> 'agentId', p ->> 'keyId', p ->> 'publicKey', p ->> 'role', sequence);
      ELSIF type = 'stele.agent_key_revoked' THEN
        INSERT INTO agent_key_revocations (agent_id, key_id, revoked_sequence, reason)
        VALUES (p ->> 'agentId', p ->> 'keyId', sequence, coalesce(stele.json_text(p -> 'reason'), ''));
      END IF;
    END $fn$;

    -- The set-based checks of every statement's inserted rows (see events_before_insert).
    CREATE FUNCTION events_check_inserted() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
      first_sequence bigint;
      before_sequence bigint;
      before_hash text;
      halt_before text;
      halts_added boolean;
      -- The taxonomy is the newest '$types' row's (schema 8); event_types is not kept here.
      typed boolean := EXISTS (SELECT 1 FROM events WHERE stream_id = '$types');
      signatures_required boolean := EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')
                                     AND NOT EXISTS (SELECT 1 FROM replica_mode);
      bad record;
    BEGIN
      SELECT min(a.sequence), bool_or(a.stream_id = '$halt') INTO first_sequence, halts_added FROM added AS a;
      IF first_sequence IS NULL THEN
        RETURN NULL;
      END IF;
      SELECT e.sequence, e.content_hash INTO before_sequence, before_hash FROM events AS e
       WHERE e.sequence < first_sequence ORDER BY e.sequence DESC LIMIT 1;
      SELECT h.type INTO halt_before FROM events AS h
       WHERE h.stream_id = '$halt' AND h.sequence < first_sequence ORDER BY h.stream_version DESC LIMIT 1;
      -- MATERIALIZED: each stream's last version before the statement is looked up once, not
      -- once per inserted row of a nested loop.
      WITH a AS MATERIALIZED (
        SELECT n.*, row_number() OVER w AS k, lag(n.content_hash) OVER w AS link,
               row_number() OVER (PARTITION BY n.stream_id ORDER BY n.sequence) AS nth
          FROM added AS n WINDOW w AS (ORDER BY n.sequence)),
      v AS MATERIALIZED (
        SELECT s.stream_id,
               (SELECT e.stream_version FROM events AS e WHERE e.stream_id = s.stream_id AND e.sequence < first_sequence
                 ORDER BY e.stream_id DESC, e.stream_version DESC LIMIT 1) AS last_version
          FROM (SELECT DISTINCT n.stream_id FROM added AS n) AS s),
      checked AS (
        SELECT a.sequence, CASE
                 WHEN typed AND a.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
                      AND NOT coalesce(stele.type_allowed(
                            (SELECT t.payload FROM events AS t WHERE t.stream_id = '$types' AND t.sequence < a.sequence
                              ORDER BY t.stream_version DESC LIMIT 1), a.type), true)
                   THEN 'STELE:UNKNOWN_EVENT_TYPE'
                 WHEN signatures_required AND a.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
                      AND (a.signature IS NULL OR a.agent_id IS NULL)
                   THEN 'STELE:SIGNATURE_REQUIRED'
                 WHEN a.stream_id NOT IN ('$halt', '$agents', '$replication', '$checkpoints')
                      AND CASE WHEN halts_added
                               THEN (SELECT h.type FROM events AS h WHERE h.stream_id = '$halt' AND h.sequence < a.sequence
                                      ORDER BY h.stream_version DESC LIMIT 1)
                               ELSE halt_before END = 'stele.halted'
                   THEN 'STELE:LEDGER_HALTED'
                 WHEN a.sequence <> coalesce(before_sequence, 0) + a.k THEN 'STELE:APPEND_ONLY_VIOLATION:sequence'
                 WHEN a.prev_hash IS DISTINCT FROM coalesce(a.link, before_hash, repeat('0', 64)) THEN 'STELE:APPEND_ONLY_VIOLATION:prev_hash'
                 WHEN EXISTS (SELECT 1 FROM events AS e WHERE e.event_id = a.event_id AND e.sequence <> a.sequence)
                   THEN 'STELE:APPEND_ONLY_VIOLATION:event_id'
                 WHEN a.stream_version IS DISTINCT FROM coalesce(v.last_version, -1) + a.nth THEN 'STELE:APPEND_ONLY_VIOLATION:stream_version'
                 WHEN a.content_hash IS DISTINCT FROM stele.stele_event_hash(a.sequence, a.event_id, a.stream_id, a.stream_version,
                        a.type, a.payload, a.payload_meta, a.metadata, a.metadata_meta, a.agent_id, a.signature,
                        a.local_timestamp, a.authority_timestamp, a.prev_hash)
                   THEN 'STELE:APPEND_ONLY_VIOLATION:content_hash'
               END AS message
          FROM a JOIN v USING (stream_id))
      SELECT c.sequence, c.message INTO bad FROM checked AS c WHERE c.message IS NOT NULL ORDER BY c.sequence LIMIT 1;
      IF bad.message IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = bad.message, DETAIL = json_build_object('sequence', bad.sequence)::text;
      END IF;
      RETURN NULL;
    END $fn$;

    -- The same rules for one row at a time, ENABLE REPLICA: a logical-replication apply worker
    -- (session_replication_role = replica) fires row triggers only, never statement triggers, so
    -- on a subscriber this re-checks every replicated row against the subscriber's own chain.
    CREATE FUNCTION events_check_row() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
      halt record;
      head_sequence bigint;
      head_hash text;
      last_version bigint;
      id_taken boolean;
      typed boolean;
      signatures_required boolean;
      raise_detail text := '{"sequence":' || NEW.sequence || '}';
    BEGIN
      PERFORM pg_advisory_xact_lock(1400136044, TG_RELID::integer);
      -- Every lookup the checks below need, in one query (each statement of a trigger costs a
      -- round through the executor; the checks themselves stay in SQLite's order).
      SELECT h.sequence, h.content_hash,
             (SELECT e.stream_version FROM events AS e WHERE e.stream_id = NEW.stream_id
               ORDER BY e.stream_id DESC, e.stream_version DESC LIMIT 1),
             EXISTS (SELECT 1 FROM events AS e WHERE e.event_id = NEW.event_id),
             EXISTS (SELECT 1 FROM events AS e WHERE e.stream_id = '$types'),
             EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')
        INTO head_sequence, head_hash, last_version, id_taken, typed, signatures_required
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (SELECT e.sequence, e.content_hash FROM events AS e ORDER BY e.sequence DESC LIMIT 1) AS h ON true;
      SELECT h.sequence, h.type, h.content_hash INTO halt FROM events AS h
       WHERE h.stream_id = '$halt' ORDER BY h.stream_version DESC LIMIT 1;
      -- the taxonomy (events_insert_rules)
      IF typed AND NEW.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
         AND NOT coalesce(stele.type_allowed((SELECT t.payload FROM events AS t WHERE t.stream_id = '$types'
                                               ORDER BY t.stream_version DESC LIMIT 1), NEW.type), true) THEN
        RAISE EXCEPTION 'STELE:UNKNOWN_EVENT_TYPE' USING DETAIL = raise_detail;
      END IF;

      IF signatures_required AND NEW.stream_id NOT IN ('$agents', '$halt', '$replication', '$types', '$checkpoints')
         AND (NEW.signature IS NULL OR NEW.agent_id IS NULL) AND NOT EXISTS (SELECT 1 FROM replica_mode) THEN
        RAISE EXCEPTION 'STELE:SIGNATURE_REQUIRED' USING DETAIL = raise_detail;
      END IF;
      -- the halt (events_insert_rules)
      IF NEW.stream_id NOT IN ('$halt', '$agents', '$replication', '$checkpoints') AND halt.type = 'stele.halted' THEN
        RAISE EXCEPTION 'STELE:LEDGER_HALTED' USING DETAIL = raise_detail;
      END IF;

      -- events_insert_extends_chain, in its order; the authority timestamp is the primary's.
      IF NEW.sequence IS DISTINCT FROM coalesce(head_sequence, 0) + 1 THEN
        RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:sequence'
          USING DETAIL = json_build_object('sequence', NEW.sequence, 'expected', coalesce(head_sequence, 0) + 1)::text;
      END IF;
      IF NEW.prev_hash IS DISTINCT FROM coalesce(head_hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:prev_hash'
          USING DETAIL = json_build_object('sequence', NEW.sequence, 'expected', coalesce(head_hash, repeat('0', 64)), 'actual', NEW.prev_hash)::text;
      END IF;
      IF id_taken THEN
        RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:event_id' USING DETAIL = raise_detail;
      END IF;
      -- The version lookup above is ORDER BY ... LIMIT 1, not max(): a plan cached while the table
      -- was small would otherwise aggregate over every row of the stream, slower as streams grow.
      IF NEW.stream_version IS DISTINCT FROM coalesce(last_version, -1) + 1 THEN
        RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:stream_version' USING DETAIL = raise_detail;
      END IF;
      IF NEW.content_hash IS DISTINCT FROM stele.stele_event_hash(NEW.sequence, NEW.event_id, NEW.stream_id, NEW.stream_version,
           NEW.type, NEW.payload, NEW.payload_meta, NEW.metadata, NEW.metadata_meta, NEW.agent_id, NEW.signature,
           NEW.local_timestamp, NEW.authority_timestamp, NEW.prev_hash) THEN
        RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:content_hash' USING DETAIL = raise_detail;
      END IF;
      RETURN NEW;
    END $fn$;

    -- events_clock_drift, as the owner (the app role cannot write the derived tables).
    CREATE FUNCTION events_after_insert() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$
    BEGIN
      INSERT INTO clock_drift_warnings (sequence, local_timestamp, authority_timestamp, drift_ms, threshold_ms)
      VALUES (NEW.sequence, NEW.local_timestamp, NEW.authority_timestamp, NEW.authority_timestamp - NEW.local_timestamp, 5000);
      RETURN NULL;
    END $fn$;

    -- Derived rows only copy their event (agent_keys_only_from_events, ...). SQLite requires the
    -- newest event. Here key rows are written by the event's own BEFORE trigger (the event is the
    -- NEW row, not in the table yet: trigger depth > 1), and drift rows by AFTER ROW triggers that
    -- run at the end of a multi-row INSERT, so the event is the one the row names; the UNIQUE
    -- sequence columns keep it to one row per event.
    CREATE FUNCTION derived_rows_only_from_events() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    DECLARE
      e record;
      p jsonb;
    BEGIN
      SELECT * INTO e FROM events
       WHERE sequence = CASE TG_TABLE_NAME WHEN 'agent_keys' THEN (to_jsonb(NEW) ->> 'registered_sequence')::bigint
                                           WHEN 'agent_key_revocations' THEN (to_jsonb(NEW) ->> 'revoked_sequence')::bigint
                                           ELSE (to_jsonb(NEW) ->> 'sequence')::bigint END;
      IF NOT FOUND AND TG_TABLE_NAME IN ('agent_keys', 'agent_key_revocations') AND pg_trigger_depth() > 1 THEN
        RETURN NEW;   -- from apply_key_event, inside the checked event's BEFORE trigger
      END IF;
      p := e.payload::jsonb;
      -- Nested IFs: PL/pgSQL plans a condition when it runs it, and NEW lacks the other tables' columns.
      IF TG_TABLE_NAME = 'agent_keys' THEN
        IF e.sequence = NEW.registered_sequence AND e.stream_id = '$agents' AND e.type = 'stele.agent_key_registered'
           AND p ->> 'agentId' = NEW.agent_id AND p ->> 'keyId' = NEW.key_id
           AND p ->> 'publicKey' = NEW.public_key AND p ->> 'role' = NEW.role THEN
          RETURN NEW;
        END IF;
      ELSIF TG_TABLE_NAME = 'agent_key_revocations' THEN
        IF e.sequence = NEW.revoked_sequence AND e.stream_id = '$agents' AND e.type = 'stele.agent_key_revoked'
           AND p ->> 'agentId' = NEW.agent_id AND p ->> 'keyId' = NEW.key_id THEN
          RETURN NEW;
        END IF;
      ELSIF e.sequence = NEW.sequence AND e.local_timestamp = NEW.local_timestamp
            AND e.authority_timestamp = NEW.authority_timestamp AND NEW.drift_ms = e.authority_timestamp - e.local_timestamp
            AND NOT EXISTS (SELECT 1 FROM clock_drift_warnings AS w WHERE w.sequence = NEW.sequence) THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:%', TG_TABLE_NAME USING DETAIL = json_build_object('table', TG_TABLE_NAME)::text;
    END $fn$;

    -- ledger_meta_insert_once, ledger_meta_replica_only_when_empty
    CREATE FUNCTION ledger_meta_before_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    BEGIN
      IF EXISTS (SELECT 1 FROM ledger_meta WHERE key = NEW.key)
         OR (NEW.key IN ('replica_id', 'replica_of') AND EXISTS (SELECT 1 FROM events)) THEN
        RAISE EXCEPTION 'STELE:APPEND_ONLY_VIOLATION:ledger_meta' USING DETAIL = json_build_object('key', NEW.key)::text;
      END IF;
      RETURN NEW;
    END $fn$;

    CREATE TRIGGER events_lock_appends BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION events_lock_appends();
    CREATE TRIGGER events_before_insert BEFORE INSERT ON events FOR EACH ROW
      WHEN ((NEW.stream_id LIKE '$%' AND NEW.stream_id <> '$default') OR NEW.agent_id IS NOT NULL OR NEW.signature IS NOT NULL)
      EXECUTE FUNCTION events_before_insert();
    CREATE TRIGGER events_check_inserted AFTER INSERT ON events REFERENCING NEW TABLE AS added
      FOR EACH STATEMENT EXECUTE FUNCTION events_check_inserted();
    CREATE TRIGGER events_check_row BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_check_row();
    -- Only the rows it derives something from: most rows then pay for no AFTER trigger at all.
    CREATE TRIGGER events_after_insert AFTER INSERT ON events FOR EACH ROW
      WHEN (abs(NEW.authority_timestamp - NEW.local_timestamp) > 5000)
      EXECUTE FUNCTION events_after_insert();
    CREATE TRIGGER agent_keys_only_from_events BEFORE INSERT ON agent_keys FOR EACH ROW EXECUTE FUNCTION derived_rows_only_from_events();
    CREATE TRIGGER agent_key_revocations_only_from_events BEFORE INSERT ON agent_key_revocations FOR EACH ROW EXECUTE FUNCTION derived_rows_only_from_events();
    CREATE TRIGGER clock_drift_warnings_only_from_events BEFORE INSERT ON clock_drift_warnings FOR EACH ROW EXECUTE FUNCTION derived_rows_only_from_events();
    CREATE TRIGGER ledger_meta_before_insert BEFORE INSERT ON ledger_meta FOR EACH ROW EXECUTE FUNCTION ledger_meta_before_insert();
  $ledger$;

  -- Refusals on every table, and every trigger ENABLE ALWAYS: session_replication_role does not
  -- skip them (a logical-replication subscriber re-checks each row it applies).
  EXECUTE $ledger$
    DO $do$
    DECLARE t text;
    BEGIN
      FOREACH t IN ARRAY ARRAY['events', 'ledger_meta', 'clock_drift_warnings', 'agent_keys', 'agent_key_revocations', 'event_types'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION stele.refuse_change()', t || '_no_change', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION stele.refuse_change()', t || '_no_truncate', t);
      END LOOP;
      FOR t IN SELECT format('ALTER TABLE %I ENABLE ALWAYS TRIGGER %I', c.relname, g.tgname)
                 FROM pg_trigger AS g JOIN pg_class AS c ON c.oid = g.tgrelid
                WHERE c.relnamespace = current_schema()::regnamespace AND NOT g.tgisinternal
                  AND g.tgname <> 'events_check_row' LOOP
        EXECUTE t;
      END LOOP;
      ALTER TABLE events ENABLE REPLICA TRIGGER events_check_row;
    END $do$;
  $ledger$;
  RESET ROLE;
  PERFORM set_config('search_path', caller_path, true);

  EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC', ledger);
  EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM PUBLIC', ledger);
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', ledger, a, r);
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I, %I', ledger, a, r);
  EXECUTE format('GRANT INSERT ON %I.events, %I.ledger_meta TO %I', ledger, ledger, a);
  EXECUTE format('GRANT EXECUTE ON FUNCTION %I.events_before_insert(), %I.events_after_insert(), %I.derived_rows_only_from_events(), %I.ledger_meta_before_insert(), %I.apply_key_event(bigint, text, jsonb), %I.events_lock_appends(), %I.events_check_inserted(), %I.events_check_row() TO %I',
                 ledger, ledger, ledger, ledger, ledger, ledger, ledger, ledger, a);
  INSERT INTO stele.ledgers (name, schema_version, owner_role, app_role, reader_role) VALUES (ledger, 10, o, a, r);
END $create$;

-- Last: from here on, schema stele itself is guarded too.
CREATE EVENT TRIGGER stele_refuse_ddl ON ddl_command_end EXECUTE FUNCTION stele.refuse_ddl();
CREATE EVENT TRIGGER stele_refuse_drop ON sql_drop EXECUTE FUNCTION stele.refuse_drop();
ALTER EVENT TRIGGER stele_refuse_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER stele_refuse_drop ENABLE ALWAYS;

COMMIT;
