import { describe, it, expect, afterEach, vi } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../../../core/command.js';
import { silentLogger } from '../../../core/log.js';
import { warrenDbPath } from '../../../core/warren-db.js';
import command, { formatRow } from '../../../crackbox/cli/egress.js';
import { EgressLog } from '../../../crackbox/egress-log.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-'));
  dirs.push(dir);
  const log = EgressLog.open(warrenDbPath(dir), { log: silentLogger() });
  log.record({ tenant: 'acme', kind: 'dns', name: 'api.github.com', port: null, allowed: true, rule: 'api.github.com (/t/acme/allowlist:1)', reason: 'A: upstream answered rcode 0 with 1 record(s)', time: Date.UTC(2026, 0, 1) });
  log.record({ tenant: 'acme/support', kind: 'connect', name: 'evil\u001b[2J.example', port: 443, allowed: false, rule: 'default-deny', reason: 'no allowlist entry matches', time: Date.UTC(2026, 0, 2) });
  log.record({ tenant: 'beta', kind: 'http', name: 'x.example', port: 80, allowed: false, rule: 'default-deny', reason: 'no allowlist entry matches', time: Date.UTC(2026, 0, 3) });
  log.close();
  log.db.close();
  return dir;
}

async function run(argv: string[], data: string): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const code = await command.run(argv, { tenants: '/nonexistent', data });
  vi.restoreAllMocks();
  return { code, out };
}

describe('warren egress log', () => {
  it('lists rows newest first, filtered by tenant subtree and denials', async () => {
    const data = dataDir();
    const all = await run(['log'], data);
    expect(all.code).toBe(0);
    expect(all.out.trim().split('\n').map((l) => l.split(/\s+/)[1])).toEqual(['beta', 'acme/support', 'acme']);
    const acmeDenied = await run(['log', '--tenant', 'acme', '--denied'], data);
    const lines = acmeDenied.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DENY');
    expect(lines[0]).toContain('evil?[2J.example:443'); // the escape character never reaches the terminal
    expect(lines[0]).not.toContain('\u001b');
    expect((await run(['log', '--limit', '1'], data)).out.trim().split('\n')).toHaveLength(1);
  });

  it('prints JSON lines', async () => {
    const { out } = await run(['log', '--json', '--tenant', 'beta'], dataDir());
    expect(JSON.parse(out.trim())).toMatchObject({ tenant: 'beta', kind: 'http', allowed: false, port: 80 });
  });

  it('rejects bad usage', async () => {
    const data = dataDir();
    await expect(command.run([], { tenants: '', data })).rejects.toThrow(UsageError);
    await expect(command.run(['log', '--limit', '0'], { tenants: '', data })).rejects.toThrow(UsageError);
    await expect(command.run(['log', '--bogus'], { tenants: '', data })).rejects.toThrow(UsageError);
    await expect(command.run(['log', '--tenant', '../x'], { tenants: '', data })).rejects.toThrow(/invalid tenant/);
  });

  it('formats a DNS row without a port', () => {
    const line = formatRow({ id: 1, time: 0, tenant: 'acme', kind: 'dns', name: 'a.example', port: null, allowed: true, rule: 'r', reason: 'why' });
    expect(line).toMatch(/^1970-01-01T00:00:00\.000Z acme\s+dns\s+a\.example\s+ALLOW r - why$/);
  });
});
