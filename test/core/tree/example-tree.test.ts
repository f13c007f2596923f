// The committed example tree must load cleanly: it is what an operator copies first.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';

const TENANTS = path.resolve(import.meta.dirname, '../../../tenants');

describe('example tenants/ tree', () => {
  it('loads every tenant with no errors', () => {
    const reg = new TenantRegistry(TENANTS, silentLogger());
    reg.loadAll();
    expect(reg.errors()).toEqual([]);
    expect(reg.list().map((s) => s.path)).toEqual(['acme', 'acme/support', 'acme/support/triage', 'root']);
    for (const s of reg.list()) expect(s.config).not.toBeNull();
  });

  it('has the pieces the docs point at', () => {
    const reg = new TenantRegistry(TENANTS, silentLogger());
    reg.loadAll();
    const acme = reg.config('acme')!;
    expect(acme.persona.frontmatter.harness).toBe('script');
    expect(acme.grants.some((r) => r.effect === 'deny')).toBe(true);
    expect(acme.allowlist.map((e) => e.text)).toEqual(expect.arrayContaining(['*.example.com', '!admin.example.com']));
    expect(acme.allowlist.some((e) => e.name === 'api.github.com')).toBe(true);
    expect(acme.skills.map((s) => s.name)).toEqual(['summarise']);
    expect(reg.config('acme/support')!.grants.length).toBeGreaterThan(0);
    expect(reg.config('acme/support/triage')!.tier).toBe(2);
    expect(reg.config('root')!.tier).toBe(0);
  });
});
