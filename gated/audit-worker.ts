// The audit writer thread: its own better-sqlite3 connection to DATA/audit.db, so committing audit rows and pruning
// old ones never blocks gated's event loop. It group-commits every batch that has arrived while it was busy in one
// transaction and acknowledges them once committed; gated releases a call's result only on that acknowledgement.
//
// The thread runs the plain-JS source below (`eval`), so it works the same from the compiled dist/ and from the
// TypeScript sources the tests run; messages are typed by the interfaces here.
import { createRequire } from 'node:module';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

/** Columns in the order each row's values are sent (one flat array per batch: no object per row). */
export const AUDIT_COLUMNS = [
  'time', 'tenant', 'run', 'tool', 'decision', 'rule', 'duration_us', 'outcome', 'args_digest', 'args_shape', 'reason',
] as const;

export interface WriterConfig {
  file: string;
  retentionDays: number;
  pruneEveryMs: number;
  pruneBatchRows: number;
}

/** gated → writer */
export type ToWriter = { type: 'rows'; seq: number; values: unknown[] } | { type: 'close' };
/** writer → gated */
export type FromWriter =
  | { type: 'written'; upTo: number; failed: [seq: number, index: number, message: string][] }
  | { type: 'pruned'; rows: number; batches: number }
  | { type: 'closed' };

const SOURCE = String.raw`
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const { port, file, columns, retentionDays, pruneEveryMs, pruneBatchRows } = workerData;
const width = columns.length;
const db = new Database(file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO audit (' + columns.join(', ') + ') VALUES (' + columns.map(() => '?').join(', ') + ')');
const rowOf = (values, at) => values.slice(at, at + width);
const writeAll = db.transaction((batches) => {
  for (const b of batches) for (let at = 0; at < b.values.length; at += width) insert.run(rowOf(b.values, at));
});
// The oldest few hundred rows, and of those only the ones past retention: each statement is short, and pruning
// stops at the first row still kept instead of scanning the table.
const prune = db.prepare('DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id LIMIT ?) AND time < ?');
const PRUNE_PAUSE_MS = 10;
let closing = false;
let pruneTimer = null;

const pruneNow = () => {
  const cutoff = new Date(Date.now() - retentionDays * 86400000).toISOString();
  let rows = 0;
  let batches = 0;
  const step = () => {
    if (closing) return;
    const n = prune.run(pruneBatchRows, cutoff).changes;
    rows += n;
    if (n > 0) batches++;
    // Pause between statements, long enough for a writer that found the lock taken to get it on its next retry
    // (SQLite's busy handler sleeps 1, 2, 5, 10... ms): gated's own writes never wait for the whole pass.
    if (n === pruneBatchRows) setTimeout(step, PRUNE_PAUSE_MS);
    else {
      port.postMessage({ type: 'pruned', rows, batches });
      pruneTimer = setTimeout(pruneNow, pruneEveryMs);
    }
  };
  step();
};

const handle = (first) => {
  const batches = [];
  let close = false;
  for (let m = { message: first }; m; m = receiveMessageOnPort(port)) {
    if (m.message.type === 'close') close = true;
    else batches.push(m.message);
  }
  if (batches.length > 0) {
    const failed = [];
    try {
      // A single row commits on its own: one statement instead of BEGIN, INSERT, COMMIT.
      if (batches.length === 1 && batches[0].values.length === width) insert.run(batches[0].values);
      else writeAll(batches);
    } catch {
      // One row must not sink the others: write them one by one, failing only those that cannot be written.
      for (const b of batches) {
        for (let at = 0; at < b.values.length; at += width) {
          try {
            insert.run(rowOf(b.values, at));
          } catch (error) {
            failed.push([b.seq, at / width, String(error && error.message || error)]);
          }
        }
      }
    }
    port.postMessage({ type: 'written', upTo: batches[batches.length - 1].seq, failed });
  }
  if (close) {
    closing = true;
    clearTimeout(pruneTimer);
    db.close();
    // gated terminates the thread on this message: it arrives after every acknowledgement sent before it.
    port.postMessage({ type: 'closed' });
  }
};

port.on('message', handle);
pruneTimer = setTimeout(pruneNow, 0);
`;

export function startWriterThread(config: WriterConfig): { worker: Worker; port: MessagePort } {
  const { port1, port2 } = new MessageChannel();
  const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(SOURCE, {
    eval: true,
    workerData: { ...config, sqlite, columns: AUDIT_COLUMNS, port: port2 },
    transferList: [port2],
  });
  return { worker, port: port1 };
}
