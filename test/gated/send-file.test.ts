// send_file decides on what it really does: the real path, the real chat, real bytes within a quota.
import { mkdirSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyFileFromHome } from '../../gated/tools/messaging.js';
import type { ToolContext } from '../../gated/tools/tool.js';
import { useGated } from '../helpers/gated.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree } from '../helpers/tree.js';

describe('send_file', () => {
  const f = useGated({
    tree: () => {
      const t = standardTree();
      t.write('acme/grants', '!send_file(path=private/**)\n!send_file(chat=tg:public)\n');
      t.write('acme/home/private/secret.txt', 'do not send');
      t.write('acme/home/report.txt', 'quarterly numbers');
      const home = t.mkdir('acme/home');
      symlinkSync('private', join(home, 'pub')); // a folder link the agent made to dodge the rule
      writeFileSync(join(home, 'sparse.bin'), '');
      truncateSync(join(home, 'sparse.bin'), 16 * 1024 * 1024);
      t.write('acme/support/home/note.txt', 'hello');
      return t;
    },
  });
  const call = async (tenant: string, args: Record<string, unknown>, run?: { chat: string }) => {
    const sock = run ? await f.gated.openRunSocket(tenant, { id: `r${Date.now()}`, topic: 'main', chat: run.chat, depth: 0 }) : null;
    const client = await connectClient(sock?.socketPath ?? f.gated.socketPath(tenant));
    const r = await client.callTool({ name: 'send_file', arguments: args });
    await client.close();
    await sock?.close();
    return { error: r.isError === true, text: textOf(r) };
  };

  it('checks deny rules against the real path, so a symlinked folder cannot dodge them', async () => {
    const r = await call('acme', { path: 'pub/secret.txt', chat: 'tg:1' });
    expect(r.error).toBe(true);
    expect(r.text).toMatch(/^denied: .*send_file\(path=private\/\*\*\).*really private\/secret\.txt/);
    expect(f.gated.audit.query({ tenant: 'acme', limit: 1 })[0]!.decision).toBe('deny');
  });

  it('requires an allow rule to hold for the real path too, so a link cannot leave an allowed folder', async () => {
    f.tree.write('acme/support/grants', 'send_file(path=reports/**)\n!send_file(path=notes/**)\n');
    f.gated.registry.reload('acme/support');
    f.gated.policies.invalidate('acme/support');
    f.tree.write('acme/support/home/notes/plan.txt', 'internal');
    f.tree.write('acme/support/home/reports/ok.txt', 'public');
    symlinkSync('../notes', join(f.tree.tenants, 'acme/support/home/reports/notes'));
    f.gated.store.setRoute('tg:team2', 'acme/support', 'acme');
    expect((await call('acme/support', { path: 'reports/ok.txt', chat: 'tg:team2' })).error).toBe(false);
    const dodge = await call('acme/support', { path: 'reports/notes/plan.txt', chat: 'tg:team2' });
    expect(dodge.text).toMatch(/^denied: .*really notes\/plan\.txt/);
  });

  it('checks deny rules against the conversation a file goes to when no chat is given', async () => {
    const r = await call('acme', { path: 'report.txt' }, { chat: 'tg:public' });
    expect(r.text).toMatch(/^denied: .*tg:public.*as the call would be carried out/);
    expect((await call('acme', { path: 'report.txt' }, { chat: 'tg:private' })).error).toBe(false);
  });

  it('lets a team send files only to chats routed to it or into its own conversation', async () => {
    expect((await call('acme/support', { path: 'note.txt', chat: 'tg:elsewhere' })).text).toMatch(/^denied: /);
    f.gated.store.setRoute('tg:team', 'acme/support', 'acme');
    expect((await call('acme/support', { path: 'note.txt', chat: 'tg:team' })).error).toBe(false);
    expect((await call('acme/support', { path: 'note.txt' }, { chat: 'local:ann' })).error).toBe(false);
  });

  it('refuses sparse files', async () => {
    expect((await call('acme', { path: 'sparse.bin', chat: 'tg:1' })).text).toMatch(/sparse/);
  });

  it('keeps each tenant within its quota of files in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-quota-'));
    try {
      mkdirSync(join(dir, 'home'));
      writeFileSync(join(dir, 'home', 'a.txt'), 'x'.repeat(600));
      const ctx = { refusedAs: () => null } as unknown as ToolContext;
      const limits = { maxFileBytes: 1000, quotaBytes: 1000 };
      const first = await copyFileFromHome(ctx, join(dir, 'home'), 'a.txt', join(dir, 'out'), limits);
      await expect(copyFileFromHome(ctx, join(dir, 'home'), 'a.txt', join(dir, 'out'), limits)).rejects.toThrow(/quota/);
      // Sent files past their retention free the quota again.
      const old = new Date(Date.now() - 8 * 24 * 3_600_000);
      utimesSync(first, old, old);
      await copyFileFromHome(ctx, join(dir, 'home'), 'a.txt', join(dir, 'out'), limits);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
