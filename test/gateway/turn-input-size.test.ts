// Accepted messages can never add up to a turn the runner refuses to read: a turn takes messages only while their
// encoded size fits (JSON writes a control character as 6 bytes), and the rest wait for the next turn.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openWarrenDb } from '../../core/warren-db.js';
import { TURN_VERSION } from '../../core/turn.js';
import { GatedStore } from '../../gated/store.js';
import { MAX_TEXT } from '../../gated/tools/messaging.js';
import { InboundSchema } from '../../gateway/inbound.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { MAX_MESSAGES_PER_TURN, RunStore } from '../../gateway/run-store.js';
import { readAll } from '../../images/agent/runner/turn-input.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-'));
const db = openWarrenDb(dir, GATEWAY_MIGRATIONS);
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('largest acceptable batch vs the runner stdin cap', () => {
  it('a turn built only from accepted messages is one the runner will read', async () => {
    const text = '\u0001'.repeat(MAX_TEXT);
    expect(InboundSchema.safeParse({ tenant: 'acme', text, sender: 'mallory' }).success).toBe(true);
    const store = new GatedStore(db);
    for (let i = 0; i < MAX_MESSAGES_PER_TURN; i++) {
      store.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'local:mallory', sender: 'mallory', text });
    }
    const run = new RunStore(db, 'r2').tryStart('acme', 'main', 4)!;
    // As turns.ts builds it (turnInput + JSON.stringify + '\n').
    const stdin =
      JSON.stringify({
        version: TURN_VERSION, tenant: 'acme', run: run.id, topic: 'main', session: null, harness: 'script', model: null,
        messages: run.messages.map(({ id, kind, sender, chat, text: t, at }) => ({ id, kind, sender, chat, text: t, at })),
        env: {},
      }) + '\n';
    const read = await readAll(Readable.from([Buffer.from(stdin)])).then(
      (s) => ({ ok: true, bytes: Buffer.byteLength(s) }),
      (e: Error) => ({ ok: false, error: e.message }),
    );
    expect(read).toEqual({ ok: true, bytes: Buffer.byteLength(stdin) });
  });
});
