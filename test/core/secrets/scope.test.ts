import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { effectiveSecrets, resolveScope, resolveSecrets, scopeChain } from '../../../core/secrets/scope.js';
import { SecretStore } from '../../../core/secrets/store.js';
import { ring, tempDir } from './helpers.js';

describe('scopeChain', () => {
  it.each([
    ['root', ['root']],
    ['acme', ['acme']],
    ['acme/support', ['acme/support', 'acme']],
    ['acme/support/triage', ['acme/support/triage', 'acme/support', 'acme']],
  ])('%s sees %j', (tenant, chain) => {
    expect(scopeChain(tenant)).toEqual(chain);
  });
  it('refuses invalid tenants', () => {
    expect(() => scopeChain('root/x')).toThrow(/invalid tenant/);
    expect(() => scopeChain('')).toThrow(/invalid tenant/);
  });
});

describe('resolveScope', () => {
  const defined = new Map([
    ['root', new Map([['ROOT_ONLY', 'r'], ['SHARED', 'root-shared']])],
    ['acme', new Map([['SHARED', 'acme-shared'], ['WORLD', 'w']])],
    ['acme/support', new Map([['SHARED', 'support-shared'], ['TEAM', 't']])],
    ['acme/sales', new Map([['SALES', 's']])],
    ['acme/support/triage', new Map([['OWN', 'o'], ['lower_bad', 'x']])],
  ]);
  const flat = (t: string, only?: string[]) =>
    Object.fromEntries([...resolveScope(defined, scopeChain(t), only).byName].map(([n, r]) => [n, r.value]));

  it('inherits down the subtree, deepest definition wins, root and siblings are not inherited', () => {
    expect(flat('acme/support/triage')).toEqual({ OWN: 'o', SHARED: 'support-shared', TEAM: 't', WORLD: 'w' });
    expect(flat('acme/support')).toEqual({ SHARED: 'support-shared', TEAM: 't', WORLD: 'w' });
    expect(flat('acme')).toEqual({ SHARED: 'acme-shared', WORLD: 'w' });
    expect(flat('root')).toEqual({ ROOT_ONLY: 'r', SHARED: 'root-shared' });
    expect(flat('globex')).toEqual({});
  });

  it('says where each name comes from and what it shadows', () => {
    const r = resolveScope(defined, scopeChain('acme/support/triage'));
    expect(r.byName.get('SHARED')).toEqual({ value: 'support-shared', definedAt: 'acme/support', shadows: ['acme'] });
    expect(r.byName.get('WORLD')).toEqual({ value: 'w', definedAt: 'acme', shadows: [] });
    expect(r.rejected).toEqual(['lower_bad']);
  });

  it('narrows to `only` and reports names that are not in scope', () => {
    const r = resolveScope(defined, scopeChain('acme/support/triage'), ['TEAM', 'SHARED', 'ROOT_ONLY', 'SALES', 'NEVER_SET']);
    expect([...r.byName.keys()]).toEqual(['SHARED', 'TEAM']);
    expect(r.missing).toEqual(['ROOT_ONLY', 'SALES', 'NEVER_SET']);
    expect(resolveScope(defined, scopeChain('acme'), []).byName.size).toBe(0);
  });
});

describe('effectiveSecrets on a real store', () => {
  let dir: string;
  let store: SecretStore;
  beforeAll(() => {
    dir = tempDir();
    store = SecretStore.open(path.join(dir, 'secrets.db'), ring());
    store.set('root', 'OPS_TOKEN', 'root-ops-token');
    store.set('acme', 'OPENAI_API_KEY', 'sk-acme-world');
    store.set('acme/support', 'OPENAI_API_KEY', 'sk-acme-support');
    store.set('acme/support', 'ZENDESK', 'zd-support');
    store.set('acme/sales', 'CRM', 'crm-sales');
  });
  afterAll(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('returns the opened environment for a tenant', () => {
    expect(effectiveSecrets(store, 'acme/support/triage')).toEqual(
      new Map([
        ['OPENAI_API_KEY', 'sk-acme-support'],
        ['ZENDESK', 'zd-support'],
      ]),
    );
    expect(effectiveSecrets(store, 'acme/sales')).toEqual(new Map([['CRM', 'crm-sales'], ['OPENAI_API_KEY', 'sk-acme-world']]));
    expect(effectiveSecrets(store, 'root')).toEqual(new Map([['OPS_TOKEN', 'root-ops-token']]));
  });

  it('narrows to the PERSONA env list and logs the names it could not supply', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = pino({ level: 'warn' }, sink);
    const env = effectiveSecrets(store, 'acme/support', ['ZENDESK', 'OPS_TOKEN', 'CRM'], { log });
    expect(env).toEqual(new Map([['ZENDESK', 'zd-support']]));
    expect(lines.join('')).toContain('"missing":["OPS_TOKEN","CRM"]');
    expect(resolveSecrets(store, 'acme/support', ['ZENDESK', 'NOPE']).missing).toEqual(['NOPE']);
  });
});

describe('resolveSecrets opens only what it hands out', () => {
  it('ignores a damaged shadowed or unrequested row, refuses a damaged one it would hand out', async () => {
    const { default: Database } = await import('better-sqlite3');
    const dir = tempDir();
    const file = path.join(dir, 'secrets.db');
    const keys = ring();
    const store = SecretStore.open(file, keys);
    store.set('acme', 'SHARED', 'acme-shared');
    store.set('acme/support', 'SHARED', 'support-shared');
    store.set('acme/support', 'OTHER', 'other-value');
    const db = new Database(file);
    db.prepare(`UPDATE secrets SET tag = randomblob(16) WHERE tenant = 'acme' AND name = 'SHARED'`).run();
    db.prepare(`UPDATE secrets SET tag = randomblob(16) WHERE tenant = 'acme/support' AND name = 'OTHER'`).run();
    db.close();
    expect(effectiveSecrets(store, 'acme/support', ['SHARED'])).toEqual(new Map([['SHARED', 'support-shared']]));
    expect(() => effectiveSecrets(store, 'acme/support')).toThrow(/failed authentication/);
    expect(() => effectiveSecrets(store, 'acme/sales')).toThrow(/failed authentication/);
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
