// Two people writing to one tenant never share a turn: inbound messages default to their conversation's own topic,
// and a turn claims the messages of one conversation only (even on a topic several senders share).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { RunStore } from '../../gateway/run-store.js';
import { planEffects } from '../../gateway/turn-plan.js';
import { topicForChat } from '../../gateway/inbound.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-'));
const db = openWarrenDb(dir, GATEWAY_MIGRATIONS);
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('two people, one tenant, default topic', () => {
  it('each person is answered in their own chat, and never sees the other in the same turn', () => {
    const store = new GatedStore(db);
    const runs = new RunStore(db, 'r2');
    // Both on a topic the senders named themselves.
    store.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'tg:alice', sender: 'alice', text: 'my card number is 4111…' });
    store.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'tg:bob', sender: 'bob', text: 'what did the last customer say?' });
    const run = runs.tryStart('acme', 'main', 4)!;
    const chatsInRun = new Set(run.messages.map((m) => m.chat));
    const effects = planEffects('acme', run.messages, new Map(), { status: 'done', text: 'answer', session: null });
    const repliedTo = effects.filter((e) => e.type === 'reply').map((e) => (e as { chat: string }).chat);
    expect({ chatsInRun: [...chatsInRun], repliedTo }).toEqual({ chatsInRun: ['tg:alice'], repliedTo: ['tg:alice'] });
    runs.finish(run, { status: 'done', text: 'answer', session: null }, effects);
    expect(runs.tryStart('acme', 'main', 4)!.messages.map((m) => m.chat)).toEqual(['tg:bob']);
  });

  it('gives each conversation its own topic when the sender names none', () => {
    expect(topicForChat('tg:12345')).toMatch(/^tg:12345-[0-9a-f]{16}$/);
    expect(topicForChat('slack:#general')).toMatch(/^slack:_general-[0-9a-f]{16}$/);
    expect(topicForChat('slack:#general')).not.toBe(topicForChat('slack:_general'));
    // A chat id spelled like another chat's topic still gets a topic of its own.
    expect(topicForChat(topicForChat('local:ann/ops'))).not.toBe(topicForChat('local:ann/ops'));
  });
});
