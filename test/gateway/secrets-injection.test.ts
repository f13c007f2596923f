// Secrets reach the agent only as its environment, in memory, and nowhere else (real Docker).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { acceptMessage } from '../../gateway/inbound.js';
import type { Warren } from '../../gateway/warren.js';
import { warren as cli } from '../helpers/cli.js';
import { containersWithLabel } from '../helpers/docker.js';
import { startWarren, waitForOutbox } from '../helpers/warren.js';
import { tempTree, type TempTree } from '../helpers/tree.js';

const TOKEN = 'sk-test-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e';
const SIBLING = 'sibling-secret-1b2c3d4e5f';

const persona = (extra = '') => `---
harness: script
${extra}script:
  - match: "^show$"
    reply: "token={{env.API_TOKEN}}"
  - match: "^sibling$"
    reply: "sibling=[{{env.B_ONLY}}]"
  - match: "^two$"
    reply: "one=[{{env.ONE}}] two=[{{env.TWO}}]"
  - match: "^hold$"
    work: { hold_ms: 5000 }
    reply: "held"
---
`;

describe('secret injection', () => {
  let tree: TempTree;
  let warren: Warren;
  const logLines: string[] = [];
  const common = () => ['--tenants', tree.tenants, '--data', tree.data];
  const send = (tenant: string, text: string) => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text, sender: 'ann' });
    warren.loop.wake();
  };

  beforeAll(async () => {
    tree = tempTree({
      'acme/PERSONA.md': persona(),
      'acme/a/PERSONA.md': persona(),
      'acme/b/PERSONA.md': persona(),
      'acme/c/PERSONA.md': persona('env: [ONE]\n'),
    });
    expect(cli(['secrets', 'init', ...common()]).status).toBe(0);
    const set = (tenant: string, name: string, value: string) =>
      expect(cli(['secrets', 'set', tenant, name, ...common()], { input: value + '\n' }).status).toBe(0);
    set('acme', 'API_TOKEN', TOKEN); // inherited by acme/a, acme/b, acme/c
    set('acme/b', 'B_ONLY', SIBLING);
    set('acme/c', 'ONE', 'value-one-1111');
    set('acme/c', 'TWO', 'value-two-2222');
    const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(String(chunk)), done()) });
    warren = await startWarren(tree, { log: pino({ level: 'debug' }, sink) });
  });
  afterAll(async () => {
    await warren.stop();
    tree.cleanup();
  });

  it('the agent sees its inherited secret in its environment; what it says back is redacted to the name', async () => {
    send('acme/a', 'show');
    const reply = await waitForOutbox(warren, 'acme/a', (r) => (r.text ?? '').startsWith('token='));
    expect(reply.text).toBe('token=[secret:API_TOKEN]');
  });

  it("a tenant never receives a sibling's secret", async () => {
    send('acme/a', 'sibling');
    expect((await waitForOutbox(warren, 'acme/a', (r) => (r.text ?? '').startsWith('sibling='))).text).toBe('sibling=[]');
    send('acme/b', 'sibling');
    expect((await waitForOutbox(warren, 'acme/b', (r) => (r.text ?? '').startsWith('sibling='))).text).toBe('sibling=[[secret:B_ONLY]]');
  });

  it('PERSONA.md env: narrows what the container receives', async () => {
    send('acme/c', 'two');
    expect((await waitForOutbox(warren, 'acme/c', (r) => (r.text ?? '').startsWith('one='))).text).toBe('one=[[secret:ONE]] two=[]');
  });

  it('the value is nowhere in docker inspect, host command lines, or the container files', async () => {
    send('acme/a', 'hold');
    let containers: Awaited<ReturnType<typeof containersWithLabel>> = [];
    for (let i = 0; i < 100 && containers.length === 0; i++) {
      containers = (await containersWithLabel(`warren.tenant=acme/a`)).filter((c) => c.State === 'running');
      if (!containers.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(containers).toHaveLength(1);
    const id = containers[0]!.Id;
    expect(execFileSync('docker', ['inspect', id], { encoding: 'utf8' })).not.toContain(TOKEN);
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // the process ended
      }
      expect(cmdline, `/proc/${pid}/cmdline`).not.toContain(TOKEN);
    }
    const scan = `const fs=require('fs'),p=require('path');let hits=[];function walk(d){for(const e of fs.readdirSync(d,{withFileTypes:true})){const f=p.join(d,e.name);if(e.isDirectory())walk(f);else if(e.isFile()&&fs.readFileSync(f).includes(${JSON.stringify(TOKEN)}))hits.push(f)}}for(const d of ['/tmp','/home/node','/etc/warren'])try{walk(d)}catch{}console.log(JSON.stringify(hits))`;
    const inside = spawnSync('docker', ['exec', id, '/usr/local/bin/node', '-e', scan], { encoding: 'utf8' });
    expect(inside.status).toBe(0);
    expect(JSON.parse(inside.stdout)).toEqual([]);
    await waitForOutbox(warren, 'acme/a', (r) => r.text === 'held');
  });

  it('secrets.db and its WAL never hold the plaintext, and no log line does', () => {
    for (const f of readdirSync(tree.data).filter((f) => f.startsWith('secrets.db'))) {
      expect(readFileSync(join(tree.data, f)).includes(TOKEN), f).toBe(false);
    }
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.join('')).not.toContain(TOKEN);
    expect(logLines.join('')).not.toContain(SIBLING);
  });
});
