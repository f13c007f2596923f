// The send_file quota holds under concurrent calls: copies in progress count against it.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { copyFileFromHome } from '../../gated/tools/messaging.js';
import type { ToolContext } from '../../gated/tools/tool.js';

describe('send_file quota under concurrent calls', () => {
  it('never lets the files in flight exceed the quota', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-'));
    try {
      mkdirSync(join(dir, 'home'));
      writeFileSync(join(dir, 'home', 'a.txt'), 'x'.repeat(600));
      const ctx = { refusedAs: () => null } as unknown as ToolContext;
      const limits = { maxFileBytes: 1000, quotaBytes: 1000 };
      const out = join(dir, 'out');
      // An agent may have many calls in flight at once on its socket.
      await Promise.allSettled(Array.from({ length: 5 }, () => copyFileFromHome(ctx, join(dir, 'home'), 'a.txt', out, limits)));
      const stored = readdirSync(out).reduce((n, f) => n + statSync(join(out, f)).size, 0);
      expect(stored).toBeLessThanOrEqual(limits.quotaBytes);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
