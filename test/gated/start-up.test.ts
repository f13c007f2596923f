// Start-up at any size: every file is parsed (and a broken one reported) before gated is ready, while policies compile
// only when a tenant is first used; a tenant's first answer is already the one its whole ancestry allows.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Gated, socketChanges } from '../../gated/broker.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { tempTree, type TempTree } from '../helpers/tree.js';

const PERSONA = '---\nname: t\n---\nA tenant.\n';

describe('which sockets a pass opens and closes (pure)', () => {
  it.each([
    // candidates, wanted (valid config), open now, -> open, close
    [['a', 'b'], ['a', 'b'], [], ['a', 'b'], []],
    [['a', 'b'], ['a'], ['a', 'b'], [], ['b']],
    [['a', 'a', 'b'], ['a', 'b'], ['b'], ['a'], []],
    [['gone'], [], ['gone'], [], ['gone']],
    [[], ['a'], [], [], []], // only the tenants that changed are looked at
  ])('%j wanted %j open %j -> open %j close %j', (candidates, wanted, open, toOpen, toClose) => {
    expect(socketChanges(candidates, (t) => wanted.includes(t), (t) => open.includes(t))).toEqual({ open: toOpen, close: toClose });
  });
});

describe('gated start-up with policies compiled on first use', () => {
  let tree: TempTree | undefined;
  let gated: Gated | undefined;
  afterEach(async () => {
    await gated?.stop();
    gated = undefined;
    tree?.cleanup();
  });

  it('compiles nothing at start, and the first answer on a socket already carries its ancestors\' denies', async () => {
    tree = tempTree({ 'acme/PERSONA.md': PERSONA, 'acme/grants': '!whoami\n', 'acme/support/PERSONA.md': PERSONA, 'globex/': '' });
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: pino({ level: 'silent' }) });
    for (const t of ['acme', 'acme/support', 'globex']) expect(gated.policies.isCompiled(t)).toBe(false);

    const client = await connectClient(gated.socketPath('acme/support'));
    const first = await client.listTools();
    expect(first.tools.map((t) => t.name)).not.toContain('whoami');
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toMatch(/^denied/);
    expect(gated.policies.isCompiled('acme/support')).toBe(true);
    expect(gated.policies.isCompiled('globex')).toBe(false);
    await client.close();
  });

  it('reports a broken file with file:line before it is ready, gives that tenant no socket and closes its subtree', async () => {
    tree = tempTree({ 'acme/PERSONA.md': PERSONA, 'acme/support/grants': 'reply\nsend_message(chat=\n', 'acme/support/triage/': '' });
    const lines: { msg: string; file?: string; line?: number }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log, watch: false });

    const ready = lines.findIndex((l) => l.msg === 'gated ready');
    const broken = lines.findIndex((l) => l.file === `${tree!.tenants}/acme/support/grants` && l.line === 2);
    expect(broken).toBeGreaterThanOrEqual(0);
    expect(broken).toBeLessThan(ready);
    expect(lines[broken]!.msg).toMatch(/grants never parsed, so the tenant has no configuration/);
    expect(gated.policies.isCompiled('acme/support')).toBe(false);
    expect(existsSync(gated.socketPath('acme/support'))).toBe(false);

    // Below it, the first call is refused: the unknown denies of acme/support are never taken as none.
    const client = await connectClient(gated.socketPath('acme/support/triage'));
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toMatch(/configuration of acme\/support.*is invalid/);
    await client.close();
  });
});
