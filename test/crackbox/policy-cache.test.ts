// The policy cache over a real TenantRegistry on a real temp tree: built once, dropped for the changed tenant and its
// subtree on the registry's events, so an allowlist edit applies to the next decision.
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllowlist } from '../../core/allowlist.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { decideName } from '../../crackbox/egress-policy.js';
import { EgressPolicyCache } from '../../crackbox/policy-cache.js';
import { standardTree, type TempTree } from '../helpers/tree.js';

describe('EgressPolicyCache', () => {
  let tree: TempTree;
  afterEach(() => tree?.cleanup());

  function setUp() {
    tree = standardTree();
    tree.write('acme/support/allowlist', 'api.github.com\n');
    const registry = new TenantRegistry(tree.tenants, silentLogger());
    registry.loadAll();
    const base = parseAllowlist('base.example.com:443', 'BASE').entries;
    return { registry, cache: new EgressPolicyCache(registry, base) };
  }

  it('builds a policy once and serves it from the cache', () => {
    const { cache } = setUp();
    const a = cache.policyFor('acme/support');
    expect(cache.policyFor('acme/support')).toBe(a);
    expect(decideName(a, 'api.github.com').allowed).toBe(true);
    expect(decideName(a, 'base.example.com').rule).toBe('base.example.com:443 (base)');
    expect(cache.size).toBe(1);
  });

  it('an edit of the tenant\'s allowlist applies to the next decision', () => {
    const { registry, cache } = setUp();
    expect(decideName(cache.policyFor('acme/support'), 'new.example.com').allowed).toBe(false);
    tree.write('acme/support/allowlist', 'api.github.com\nnew.example.com\n');
    registry.reload('acme/support');
    expect(decideName(cache.policyFor('acme/support'), 'new.example.com').allowed).toBe(true);
  });

  it('a change of an ancestor drops the whole subtree; other tenants stay cached', () => {
    const { registry, cache } = setUp();
    cache.policyFor('acme/support');
    cache.policyFor('acme/support/triage');
    const globex = cache.policyFor('globex');
    tree.write('acme/allowlist', '!api.github.com\n');
    registry.reload('acme');
    expect(cache.policyFor('globex')).toBe(globex);
    expect(decideName(cache.policyFor('acme/support'), 'api.github.com')).toMatchObject({ allowed: false });
  });

  it('a broken allowlist denies everything, base included, on the next decision; fixing it restores', () => {
    const { registry, cache } = setUp();
    expect(decideName(cache.policyFor('acme/support'), 'base.example.com').allowed).toBe(true);
    tree.write('acme/support/allowlist', 'api.github.com\nnot a valid line\n');
    registry.reload('acme/support');
    expect(decideName(cache.policyFor('acme/support'), 'base.example.com')).toMatchObject({ allowed: false, rule: 'broken-allowlist' });
    tree.write('acme/support/allowlist', 'api.github.com\n');
    registry.reload('acme/support');
    expect(decideName(cache.policyFor('acme/support'), 'base.example.com').allowed).toBe(true);
  });

  it('a root change drops every cached policy; close() stops listening', () => {
    const { registry, cache } = setUp();
    cache.policyFor('acme');
    cache.policyFor('globex');
    cache.invalidate('root');
    expect(cache.size).toBe(0);
    cache.policyFor('acme');
    cache.close();
    expect(registry.listenerCount('changed')).toBe(0);
    expect(cache.size).toBe(0);
  });
});
