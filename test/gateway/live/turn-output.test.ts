// A real scripted turn through warren (real Docker, real gated, the real HTTP route): its live output holds the
// runner's log lines, the tool call as gated decided it, and the run's status changes, in one gap-free sequence,
// served as SSE and ended when the container is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptMessage } from '../../../gateway/inbound.js';
import { readOperatorToken } from '../../../gateway/operator-token.js';
import type { Warren } from '../../../gateway/warren.js';
import { sse } from '../../helpers/sse.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { startWarren, waitForOutbox } from '../../helpers/warren.js';

const ACME = `---
name: acme
harness: script
script:
  - match: "^who$"
    calls:
      - tool: whoami
        args: {}
    reply: "{{result}}"
---
The acme world.
`;

describe('live output of a real turn', () => {
  let tree: TempTree;
  let warren: Warren;

  beforeAll(async () => {
    tree = tempTree({ 'root/PERSONA.md': '---\nname: root\n---\nroot\n', 'acme/PERSONA.md': ACME });
    warren = await startWarren(tree);
  });
  afterAll(async () => {
    await warren?.stop();
    tree?.cleanup();
  });

  it('records log, tool and status chunks and serves them as SSE ending with the run', async () => {
    const { id } = acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text: 'who', sender: 'ann' });
    warren.loop.wake();
    await waitForOutbox(warren, 'acme', (r) => (r.text ?? '').includes('"tenant":"acme"'));
    const { run } = warren.db.prepare('SELECT run FROM messages WHERE id = ?').get(id) as { run: string };

    const client = await sse(`${warren.url}/v1/tenants/acme/runs/${run}/output`, { authorization: `Bearer ${readOperatorToken(tree.data)}` });
    expect(client.status).toBe(200);
    await client.waitFor((e) => e.some((x) => x.event === 'end'), 'the end of the run', 60_000);
    const chunks = client.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data));
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i + 1));
    expect(chunks[0]).toMatchObject({ kind: 'status', data: { state: 'started', attempt: 1 } });
    expect(chunks.filter((c) => c.kind === 'log').length).toBeGreaterThan(0);
    expect(chunks.filter((c) => c.kind === 'tool')).toEqual([
      expect.objectContaining({ kind: 'tool', data: expect.objectContaining({ tool: 'whoami', decision: 'allow', outcome: 'ok' }) }),
    ]);
    const states = chunks.filter((c) => c.kind === 'status').map((c) => c.data.state);
    expect(states).toEqual(['started', 'committed', 'ended']);
    expect(chunks.at(-1)).toMatchObject({ kind: 'status', data: { state: 'ended', status: 'done' } });
    const end = client.events.at(-1)!;
    expect(end.event).toBe('end');
    expect(JSON.parse(end.data)).toEqual({ status: 'done', lastSeq: chunks.length });
    // The tool call never carries argument values: only what gated audits about it.
    expect(Object.keys(chunks.find((c) => c.kind === 'tool').data).sort()).toEqual(['decision', 'durationMs', 'outcome', 'rule', 'tool']);
  });
});
