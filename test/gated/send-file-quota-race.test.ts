// The send_file quota holds under concurrent calls: copies in progress count against it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyFileFromHome } from '../../gated/tools/messaging.js';
import type { ToolContext } from '../../gated/tools/tool.js';

describe('send_file quota under concurrent calls', () => {
  it('lets exactly one of several concurrent copies through when the quota has room for one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-'));
    try {
      mkdirSync(join(dir, 'home'));
      writeFileSync(join(dir, 'home', 'a.txt'), 'x'.repeat(600));
      const ctx = { refusedAs: () => null } as unknown as ToolContext;
      const limits = { maxFileBytes: 1000, quotaBytes: 1000 };
      const out = join(dir, 'out');
      // An agent may have many calls in flight at once on its socket.
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => copyFileFromHome(ctx, join(dir, 'home'), 'a.txt', out, limits)));
      // Room for one 600-byte copy: exactly one succeeds, the others are refused for the quota, not for anything else.
      const copied = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const refusals = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      expect(copied).toHaveLength(1);
      expect(refusals).toHaveLength(4);
      for (const reason of refusals) expect(reason).toMatch(/would exceed your 1000-byte quota/);
      expect(readdirSync(out).map((f) => join(out, f))).toEqual(copied);
      expect(statSync(copied[0]!).size).toBe(600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
