import Database from 'better-sqlite3';
import { registerNativeFunctions, configureWriterConnection } from '../lib/native-sql.ts';
const path = process.argv[2]!;
for (const rt of ['ON', 'OFF']) {
const db = new Database(path, { timeout: 2000 });
registerNativeFunctions(db, { driftThresholdMs: 5000 }); configureWriterConnection(db, 'full'); db.pragma(`recursive_triggers = ${rt}`);
const id1 = (db.prepare('select event_id from events where sequence=1').get() as any).event_id;
const row = (verb: string, id: string, tail = '') => `${verb} INTO events (sequence, event_id, stream_id, stream_version, type, payload, payload_meta, metadata, metadata_meta, agent_id, signature, local_timestamp, authority_timestamp, prev_hash, content_hash)
 SELECT n.seq, '${id}', 'sX', 0, 't', NULL,NULL,NULL,NULL,NULL,NULL, n.now, n.now, n.prev,
   stele_event_hash(n.seq, '${id}', 'sX', 0, 't', NULL,NULL,NULL,NULL,NULL,NULL, n.now, n.now, n.prev)
 FROM (SELECT (SELECT max(sequence) FROM events)+1 AS seq, (SELECT content_hash FROM events ORDER BY sequence DESC LIMIT 1) AS prev, CAST(round(unixepoch('subsec')*1000) AS INTEGER) AS now) n WHERE 1 ${tail}`;
for (const s of [row('INSERT OR REPLACE', id1), row('INSERT', id1, `ON CONFLICT(event_id) DO UPDATE SET type='x'`), row('INSERT', 'fresh-id')]) {
  db.exec('SAVEPOINT x');
  try { const r = db.prepare(s).run(); console.log(rt, 'OK  ', s.slice(0, 30), JSON.stringify(r), JSON.stringify(db.prepare('select sequence, event_id from events').all())); }
  catch (e: any) { console.log(rt, 'ERR ', s.slice(0, 30), '=>', e.code, e.message); }
  db.exec('ROLLBACK TO x; RELEASE x');
}
db.close();
}
