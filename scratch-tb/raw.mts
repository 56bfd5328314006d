import Database from 'better-sqlite3';
import { registerNativeFunctions, configureWriterConnection } from '../lib/native-sql.ts';
const path = process.argv[2]!;
const mode = process.argv[3];
const db = new Database(path, { timeout: 2000 });
console.log('sqlite', db.prepare('select sqlite_version() v').get(), 'rt', db.pragma('recursive_triggers', {simple:true}));
if (mode === 'fn') { registerNativeFunctions(db, { driftThresholdMs: 5000 }); configureWriterConnection(db, 'full'); }
if (mode === 'fnoff') { registerNativeFunctions(db, { driftThresholdMs: 5000 }); configureWriterConnection(db, 'full'); db.pragma('recursive_triggers = OFF'); }
const stmts = [
 "UPDATE events SET type='x'", "DELETE FROM events",
 "INSERT OR REPLACE INTO events SELECT * FROM events WHERE sequence=1",
 "REPLACE INTO events SELECT * FROM events WHERE sequence=1",
 "INSERT INTO events SELECT 3,'e','s1',2,type,payload,payload_meta,metadata,metadata_meta,agent_id,signature,local_timestamp,authority_timestamp,content_hash,content_hash FROM events WHERE sequence=2",
 "INSERT INTO events SELECT * FROM events WHERE sequence=1 ON CONFLICT(sequence) DO UPDATE SET type='x'",
 "INSERT INTO events SELECT * FROM events WHERE sequence=1 ON CONFLICT DO NOTHING",
 "INSERT INTO append_event (event_id, stream_id, type, local_timestamp) VALUES ('z','s1','t',0)",
 "UPDATE clock_drift_warnings SET drift_ms=0", "DELETE FROM clock_drift_warnings",
 "UPDATE ledger_meta SET value='x'", "DELETE FROM ledger_meta",
 "INSERT OR REPLACE INTO ledger_meta VALUES ('format','evil')",
 "INSERT OR REPLACE INTO clock_drift_warnings SELECT sequence, 1,2,3,4 FROM clock_drift_warnings",
 "INSERT INTO clock_drift_warnings VALUES (1,1,1,1,1)",
 "INSERT INTO ledger_meta VALUES ('k','v')",
 "INSERT INTO ledger_meta VALUES ('format','x') ON CONFLICT(key) DO UPDATE SET value='y'",
 "SELECT count(*) FROM events",
];
for (const s of stmts) {
  db.exec('SAVEPOINT x');
  try { const st = db.prepare(s); const r = st.reader ? st.all() : st.run(); console.log('OK  ', s, JSON.stringify(r)); }
  catch (e: any) { console.log('ERR ', s, '=>', e.code, e.message); }
  db.exec('ROLLBACK TO x; RELEASE x');
}
