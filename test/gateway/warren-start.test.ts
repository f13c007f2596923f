// A start that fails half-way leaves nothing running: no sockets, no firewall chains, and the next start works.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainNames } from '../../crackbox/firewall-rules.js';
import { tenantSocketPath } from '../../gated/broker.js';
import { startWarren } from '../helpers/warren.js';
import { tempTree, type TempTree } from '../helpers/tree.js';

describe('Warren.start failing half-way', () => {
  let tree: TempTree;
  beforeAll(() => {
    tree = tempTree({ 'acme/': '' });
  });
  afterAll(() => tree.cleanup());

  it('undoes what it had started, and a later start succeeds', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const instance = `halfway-${process.pid}`;
    await expect(startWarren(tree, { env: { WARREN_HTTP_PORT: String(port), WARREN_WEB_PORT: '0', WARREN_INSTANCE: instance } })).rejects.toThrow(/EADDRINUSE/);
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    expect(existsSync(tenantSocketPath(tree.data, 'acme'))).toBe(false);
    const rules = execFileSync('iptables', ['-S'], { encoding: 'utf8' });
    expect(rules).not.toContain(chainNames(instance).input);

    const warren = await startWarren(tree, { env: { WARREN_INSTANCE: instance } });
    expect(existsSync(tenantSocketPath(tree.data, 'acme'))).toBe(true);
    await warren.stop();
  });
});
