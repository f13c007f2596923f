// The dashboard in real Chromium (Debian's chromium driven by playwright-core) against the gateway's real HTTP server:
// log in, walk the tree, open a tenant, explain a denied call, watch a run's output live across a reconnect, log out;
// a scoped token's subtree; the one-time login link; hostile content stays text. A screenshot of each page is kept
// under test-artifacts/dashboard/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { LiveOutput } from '../../../gateway/live/capture.js';
import { OPERATOR_TOKEN } from '../../helpers/http-api.js';
import { eventually } from '../../helpers/wait.js';
import { HOSTILE, startDashboard, type DashboardFixture } from './helpers.js';

// Functions given to page.evaluate run in the page; tests are compiled without the DOM library.
declare const document: { querySelectorAll(s: string): { length: number } };

const ARTIFACTS = join(import.meta.dirname, '../../../test-artifacts/dashboard');

let d: DashboardFixture;
let context: BrowserContext;
let page: Page;
let profile: string;
let dialogs: string[];
/** What Chromium said about the Content-Security-Policy: a page that needed inline script or style would show here. */
let cspReports: string[];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  d = await startDashboard();
}, 60_000);
afterAll(() => d?.stop());
beforeEach(async () => {
  profile = mkdtempSync(join(tmpdir(), 'warren-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = context.pages()[0] ?? (await context.newPage());
  dialogs = [];
  cspReports = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspReports.push(m.text());
  });
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
}, 60_000);
afterEach(async () => {
  expect(dialogs).toEqual([]); // no hostile string ever ran
  expect(cspReports).toEqual([]); // and every page works under the strict policy
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
async function logIn(token: string): Promise<void> {
  await page.goto(`${d.url}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(`${d.url}/`), page.click('form.login button')]);
}

describe('the dashboard in Chromium', () => {
  it('logs in, walks the tree, opens a tenant, explains a denied call, and logs out', async () => {
    await page.goto(`${d.url}/login`);
    await shot('login');
    await logIn(OPERATOR_TOKEN);
    expect(await page.textContent('h1')).toBe('Overview');
    await shot('overview');
    await page.click('nav a[href="/tenants"]');
    await page.waitForURL(`${d.url}/tenants`);
    expect(await page.locator('table.tree a').allTextContents()).toEqual(['acme', 'acme/support', 'acme/support/triage', 'globex', 'root']);
    expect(await page.textContent('table.tree')).toContain('globex/grants:1');
    await shot('tenants');
    await page.click('table.tree a:text-is("acme/support")');
    await page.waitForURL(`${d.url}/tenants/acme.support`);
    // the hostile persona is text on the page, not markup
    expect(await page.textContent('main')).toContain(HOSTILE);
    expect(await page.evaluate(() => document.querySelectorAll('main img, main script, #grants-markup').length)).toBe(0);
    await shot('tenant');
    await page.goto(`${d.url}/tenants/globex`);
    expect(await page.textContent('main')).toContain(`<b id="grants-markup">`);
    await page.fill('form.explain input[name=tool]', 'send_message');
    await page.fill('form.explain input[name=args]', '{"to":"acme","text":"hi"}');
    await Promise.all([page.waitForURL(`${d.url}/tenants/globex/explain`), page.click('form.explain button')]);
    expect(await page.textContent('#explain-result strong')).toBe('denied');
    await shot('explain');
    await page.goto(`${d.url}/audit`);
    await page.selectOption('form.filters select[name=decision]', 'deny');
    await page.fill('form.filters input[name=tenant]', 'acme');
    await Promise.all([page.waitForURL(/\/audit\?/), page.click('form.filters button')]);
    expect(await page.locator('table.audit tbody tr td:nth-child(3)').allTextContents()).toEqual(['acme/support']);
    await shot('audit');
    await page.goto(`${d.url}/egress`);
    expect(await page.textContent('main')).toContain(`not allowed ${HOSTILE}`);
    await shot('egress');
    await page.goto(`${d.url}/workers`);
    expect(await page.textContent('main')).toContain('issue 12');
    await shot('workers');
    await Promise.all([page.waitForURL(`${d.url}/login`), page.click('nav form button')]);
    await page.goto(`${d.url}/tenants`);
    expect(new URL(page.url()).pathname).toBe('/login');
  }, 120_000);

  it("shows a run's output live, chunk by chunk, and resumes after a dropped connection without loss or duplicates", async () => {
    const output = new LiveOutput(d.api.live.store, d.api.live, () => undefined, silentLogger());
    output.started({ id: 'run-live', tenant: 'acme/support', topic: 'main', attempt: 1 });
    output.line('run-live', `first ${HOSTILE}`);
    await logIn(OPERATOR_TOKEN);
    await page.goto(`${d.url}/tenants/acme.support/runs/run-live`);
    const seqs = () => page.locator('#live-chunks li[data-seq]').evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { seq: string } }).dataset.seq));
    await eventually(async () => (await page.textContent('#live-state')) === 'live', 'the stream to open');
    const before = (await seqs()).length;
    for (let i = 0; i < 3; i++) output.line('run-live', `line ${i}`);
    await eventually(async () => (await seqs()).length === before + 3, 'three live chunks');
    d.dropConnections();
    for (let i = 3; i < 6; i++) output.line('run-live', `line ${i}`); // written while the browser is away
    await eventually(async () => (await seqs()).length >= before + 6, 'the chunks written while away, after the reconnect', 20_000);
    output.ended('run-live', 'ok');
    await eventually(async () => (await page.textContent('#live-state')) === 'ended: ok', 'the end of the run');
    // every chunk the run has (its end status chunk included), each once and in order
    const lastSeq = d.api.live.store.state('run-live')!.lastSeq;
    expect(await seqs()).toEqual(Array.from({ length: lastSeq }, (_, i) => String(i + 1)));
    expect(await page.textContent('#live-chunks')).toContain(`first ${HOSTILE}`);
    expect(await page.textContent('#live-chunks')).toContain('line 5');
    await shot('run');
  }, 120_000);

  it("a scoped token's session sees its subtree only, in pages and in live output", async () => {
    d.api.live.store.begin('run-of-globex', 'globex');
    await logIn(d.api.tokens.issue({ scope: 'acme', access: 'read' }).token);
    await page.goto(`${d.url}/tenants`);
    expect(await page.locator('table.tree a').allTextContents()).toEqual(['acme', 'acme/support', 'acme/support/triage']);
    await shot('tenants-scoped');
    const other = await page.goto(`${d.url}/tenants/globex`);
    expect(other!.status()).toBe(403);
    const sse = await page.request.get(`${d.url}/v1/tenants/globex/runs/run-of-globex/output`);
    expect(sse.status()).toBe(403);
  }, 120_000);

  it('a one-time login link logs in once and leaves the address bar clean; a second use is refused', async () => {
    const link = `${d.url}/login/${d.sessions.loginCode({ kind: 'operator' })}`;
    await page.goto(link);
    expect(page.url()).toBe(`${d.url}/`);
    expect(await page.textContent('h1')).toBe('Overview');
    await context.clearCookies();
    const again = await page.goto(link);
    expect(again!.status()).toBe(403);
    expect(await page.textContent('main')).toContain('used already or has expired');
  }, 120_000);
});
