// The web surface end to end: a real container (scripted harness) writes /workspace/web, the web listener serves it
// through the path prefix and through a vhost root set, refuses the ways out, and a page cannot read the API's cookie
// in real Chromium.
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { tmpdir } from 'node:os';
import type { Warren } from '../../../gateway/warren.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import { connectClient, textOf } from '../../helpers/mcp.js';
import { startWarren, waitForOutbox } from '../../helpers/warren.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';

const ACME = `---
name: acme
harness: script
web: true
script:
  - match: "^publish$"
    exec: ["node", "-e", "const f=require('fs');f.writeFileSync('/workspace/web/index.html','<title>start</title><h1>acme site</h1><script src=app.js></script>');f.writeFileSync('/workspace/web/app.js','try{document.title=\\\\'cookie=\\\\'+document.cookie}catch(e){document.title=\\\\'blocked:\\\\'+e.name}');f.writeFileSync('/workspace/web/report.csv','q,n\\\\n1,42\\\\n');f.writeFileSync('/workspace/web/.secret','dot');f.symlinkSync('/etc/passwd','/workspace/web/passwd');console.log('ok')"]
    reply: "published {{result}}"
  - match: "^bloat$"
    exec: ["node", "-e", "require('fs').writeFileSync('/workspace/web/big.bin', Buffer.alloc(2*1024*1024));console.log('ok')"]
    reply: "bloated {{result}}"
---
The acme world.
`;

function getAs(base: string, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the web surface (real containers, real Chromium)', () => {
  let tree: TempTree;
  let warren: Warren;
  let web: string;
  const send = (text: string) => acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text, sender: 'ann' });

  beforeAll(async () => {
    tree = tempTree({ 'root/PERSONA.md': '---\nname: root\n---\nroot\n', 'acme/PERSONA.md': ACME, 'globex/PERSONA.md': '---\nname: globex\n---\n' });
    warren = await startWarren(tree, { env: { WARREN_WEB_QUOTA_MB: '1' } });
    web = warren.webUrl!;
    send('publish');
    const row = await waitForOutbox(warren, 'acme', (r) => /published/.test(r.text ?? ''), 120_000);
    expect(row.text).toBe('published ok');
  }, 300_000);
  afterAll(async () => {
    await warren?.stop();
    tree?.cleanup();
  });

  it('serves what the agent wrote through the path prefix', async () => {
    const index = await fetch(`${web}/t/acme/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<h1>acme site</h1>');
    const report = await fetch(`${web}/t/acme/report.csv`);
    expect(report.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(await report.text()).toBe('q,n\n1,42\n');
  });

  it('refuses the symlink, the dot-file and traversal the agent tried', async () => {
    expect((await fetch(`${web}/t/acme/passwd`)).status).toBe(404);
    expect((await fetch(`${web}/t/acme/.secret`)).status).toBe(404);
    expect((await fetch(`${web}/t/acme/%2e%2e/PERSONA.md`)).status).toBe(404);
    expect((await fetch(`${web}/t/globex/`)).status).toBe(404); // does not publish
  });

  it('a tenant cannot set a vhost; root can, and the vhost serves the site', async () => {
    const acme = await connectClient(warren.gated.socketPath('acme'));
    const denied = await acme.callTool({ name: 'set_vhost', arguments: { host: 'reports.acme.example', group: 'acme' } });
    expect(denied.isError).toBe(true);
    await acme.close();
    expect((await getAs(web, 'reports.acme.example', '/')).status).toBe(404);
    const root = await connectClient(warren.gated.socketPath('root'));
    const set = await root.callTool({ name: 'set_vhost', arguments: { host: 'reports.acme.example', group: 'acme' } });
    expect(set.isError, textOf(set)).not.toBe(true);
    await root.close();
    const page = await getAs(web, 'reports.acme.example:80', '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>acme site</h1>');
    expect((await getAs(web, 'reports.acme.example', '/report.csv')).body).toBe('q,n\n1,42\n');
  });

  it("a served page cannot read the API's cookie (Chromium)", async () => {
    const profile = mkdtempSync(join(tmpdir(), 'warren-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      // A session cookie of the API's host: cookies ignore ports, so without the sandbox the page would see it.
      await context.addCookies([{ name: 'warren_session', value: 'operator-secret', url: warren.url! }]);
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${web}/t/acme/`);
      await eventually(async () => (await page.title()) !== 'start', 'the page script ran', 15_000);
      const title = await page.title();
      expect(title).not.toContain('operator-secret');
      expect(title).toMatch(/^blocked:|^cookie=$/);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);

  it('a site over its quota answers 503', async () => {
    send('bloat');
    await waitForOutbox(warren, 'acme', (r) => /bloated/.test(r.text ?? ''), 120_000);
    await eventually(async () => (await fetch(`${web}/t/acme/`)).status === 503, 'the site is over quota', 20_000);
  }, 180_000);

  it("a removed tenant's site answers 404", async () => {
    rmSync(join(tree.tenants, 'acme'), { recursive: true, force: true });
    await eventually(async () => (await fetch(`${web}/t/acme/report.csv`)).status === 404, 'the site is gone', 20_000);
    expect((await getAs(web, 'reports.acme.example', '/')).status).toBe(404);
  }, 60_000);
});
