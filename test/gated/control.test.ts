// gated's operator control socket: private to the operator's uid, answers `tenants` and `explain` from the running
// state, refuses anything else, and goes away with gated.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { askControl, controlSocketPath, MAX_REQUEST_BYTES } from '../../gated/control.js';
import { silentLogger } from '../../core/log.js';
import { Gated } from '../../gated/broker.js';
import { useGated } from '../helpers/gated.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree } from '../helpers/tree.js';

/** Sends raw bytes, returns every answer line until the server closes (or `lines` answers arrived). */
function exchange(socketPath: string, bytes: string | Buffer, lines = 1): Promise<{ answers: any[]; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let buf = '';
    const answers: any[] = [];
    socket.on('error', reject);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        answers.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
      }
      if (answers.length >= lines && lines > 0) {
        socket.destroy();
        resolve({ answers, closedByServer: false });
      }
    });
    socket.on('end', () => resolve({ answers, closedByServer: true }));
  });
}

describe('control socket', () => {
  const f = useGated({ before: (tree) => tree.write('globex/grants', 'bad rule (\n') });
  const path = () => controlSocketPath(f.tree.data);

  it('is a 0600 socket in a 0700 directory', () => {
    expect(statSync(path()).isSocket()).toBe(true);
    expect(statSync(path()).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path())).mode & 0o777).toBe(0o700);
  });

  it.runIf(process.getuid?.() === 0)('refuses a connection from another uid, even with DATA open to it', () => {
    // The temp folders are private already; open them so that only the control socket's own protection is tested.
    chmodSync(f.tree.root, 0o755);
    chmodSync(f.tree.data, 0o755);
    const script = `require('net').connect(${JSON.stringify(path())}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); });`;
    const r = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout.trim()).toBe('EACCES');
  });

  it('answers tenants with the registry states and sockets of the running gated', async () => {
    const report = await askControl(f.tree.data, 'tenants');
    const acme = report!.tenants.find((t) => t.tenant === 'acme')!;
    expect(acme).toMatchObject({ tier: 1, status: 'ok', socket: f.gated.socketPath('acme'), errors: [] });
    expect(report!.tenants.find((t) => t.tenant === 'globex')).toMatchObject({ status: 'invalid', socket: null });
    expect(report!.errors.join('\n')).toMatch(/globex\/grants:1/);
  });

  it('answers explain with the decision a real call gets, and writes no audit row', async () => {
    const allowed = await askControl(f.tree.data, { tenant: 'acme', tool: 'whoami', args: {} });
    expect(allowed).toMatchObject({ allowed: true, refusedAt: null, rule: expect.stringMatching(/tier 1 default/) });
    const guard = await askControl(f.tree.data, { tenant: 'acme', tool: 'delegate_group', args: { group: 'globex', prompt: 'x' } });
    expect(guard).toMatchObject({ allowed: false, refusedAt: 'structural guard', message: expect.stringMatching(/only reaches your descendants/) });
    await f.gated.audit.flush();
    expect(f.gated.audit.query({})).toEqual([]);
  });

  // Calls chosen so that every stage of the decision speaks once; none of them has an effect when refused.
  it.each([
    ['allowed', 'acme', 'whoami', {}],
    ['unknown tool', 'acme', 'format_disk', {}],
    ['invalid arguments', 'acme/support', 'send_file', { path: 'a.pdf', bogus: 1 }],
    ['grant', 'acme/support', 'create_group', { name: 'x' }],
    ['structural guard', 'acme', 'delegate_group', { group: 'globex', prompt: 'x' }],
  ])('explain says what the real call on the tenant socket gets: %s', async (stage, tenant, tool, args) => {
    const x = (await askControl(f.tree.data, { tenant, tool, args }))!;
    expect(x.refusedAt).toBe(stage === 'allowed' ? null : stage);
    const client = await connectClient(f.gated.socketPath(tenant));
    try {
      const real = await client.callTool({ name: tool, arguments: args });
      expect(x.allowed).toBe(!real.isError);
      if (!x.allowed) expect(x.message).toBe(textOf(real));
    } finally {
      await client.close();
    }
  });

  it('refuses what is not one valid request per line, and a line past the size cap', async () => {
    const answers = (await exchange(path(), 'nope\n{"request":"tenants","x":1}\n{"request":"drop"}\n{"request":"explain","tenant":"Acme","tool":"whoami","args":{}}\n', 4)).answers;
    expect(answers.map((a) => a.ok)).toEqual([false, false, false, false]);
    expect(answers[0].error).toMatch(/one line of JSON/);
    expect(answers[1].error).toMatch(/bad request/);
    expect(answers[3].error).toMatch(/invalid tenant "Acme"/);
    const big = await exchange(path(), Buffer.alloc(MAX_REQUEST_BYTES + 10, 'a'), 0);
    expect(big.closedByServer).toBe(true);
    expect(big.answers).toEqual([{ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` }]);
  });

  it('goes away with gated: the CLI then finds no running gated', async () => {
    const tree = standardTree();
    try {
      const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
      expect(await askControl(tree.data, 'tenants')).not.toBeNull();
      await gated.stop();
      expect(existsSync(controlSocketPath(tree.data))).toBe(false);
      expect(await askControl(tree.data, 'tenants')).toBeNull();
    } finally {
      tree.cleanup();
    }
  });

  it('binds nothing when its path would not fit a unix socket (the kernel would truncate it)', async () => {
    const tree = standardTree();
    const data = join(tree.root, 'd'.repeat(Math.max(1, 100 - tree.root.length)));
    try {
      expect(Buffer.byteLength(controlSocketPath(data))).toBeGreaterThan(107);
      const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: data, log: silentLogger(), watch: false });
      try {
        expect(existsSync(dirname(controlSocketPath(data)))).toBe(false);
        expect(await askControl(data, 'tenants')).toBeNull();
      } finally {
        await gated.stop();
      }
    } finally {
      tree.cleanup();
    }
  });

  it.runIf(process.getuid?.() === 0)("opens no control socket in a DATA/control that another user created (they could swap it)", async () => {
    // Only root can give a folder away; chmod 0700 alone would leave that user its owner.
    const tree = standardTree();
    try {
      const dir = dirname(controlSocketPath(tree.data));
      mkdirSync(dir, { recursive: true, mode: 0o777 });
      chownSync(dir, 4242, 4242);
      const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
      try {
        expect(existsSync(controlSocketPath(tree.data))).toBe(false);
        expect(await askControl(tree.data, 'tenants')).toBeNull();
      } finally {
        await gated.stop();
      }
    } finally {
      tree.cleanup();
    }
  });
});
