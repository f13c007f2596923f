import { describe, it, expect } from 'vitest';
import { ALL_TOOLS, tierDefaults, workerDefaults } from '../../../core/grants/defaults.js';
import { effectiveRules, workerRules } from '../../../core/grants/effective.js';
import { compileRules, decide, decideAsWorker, NO_ROUTES } from '../../../core/grants/evaluate.js';
import { parseGrants } from '../../../core/grants/parse.js';
import type { Tier } from '../../../core/tenant-path.js';
import type { DecisionContext } from '../../../core/grants/types.js';

const TIER1 = [
  'send_message', 'reply', 'like', 'send_file', 'delegate_group', 'escalate_group', 'observe_group', 'unobserve_group',
  'read_observed', 'fork_topic', 'create_group', 'set_route', 'list_routes', 'issue_token', 'revoke_token',
  'list_tokens', 'grant', 'revoke', 'whoami', 'list_groups', 'spawn_worker', 'list_workers', 'cancel_worker',
];
const TIER0_ONLY = ['set_vhost', 'remove_vhost', 'list_vhosts'];
const TIER2 = [
  'reply', 'like', 'send_file', 'observe_group', 'unobserve_group', 'read_observed', 'escalate_group', 'whoami',
  'list_workers', 'cancel_worker',
];
const routed = (chats: string[]): DecisionContext => ({ isRoutedChat: (c) => chats.includes(c) });

function allowedTools(tier: Tier, ctx: DecisionContext = NO_ROUTES, args: Record<string, unknown> = {}): string[] {
  const compiled = compileRules(tierDefaults(tier));
  return ALL_TOOLS.filter((t) => decide(compiled, t, args, ctx).allowed);
}

describe('tier defaults', () => {
  it('ALL_TOOLS is every tool, once', () => {
    expect([...ALL_TOOLS].sort()).toEqual([...TIER1, ...TIER0_ONLY].sort());
  });

  it('virtual hosts are tier 0 defaults only', () => {
    for (const tool of TIER0_ONLY) {
      expect(allowedTools(0)).toContain(tool);
      expect(allowedTools(1)).not.toContain(tool);
      expect(allowedTools(2)).not.toContain(tool);
    }
  });

  it('every default carries its tier as source', () => {
    for (const tier of [0, 1, 2] as Tier[]) {
      for (const r of tierDefaults(tier)) expect(r.source).toEqual({ kind: 'tier-default', tier });
    }
  });

  it('tier 0 may call everything, including tools not yet invented', () => {
    expect(allowedTools(0)).toEqual([...ALL_TOOLS]);
    expect(decide(compileRules(tierDefaults(0)), 'some_future_tool', {}, NO_ROUTES).allowed).toBe(true);
  });

  it('tier 1 may call the listed tools and nothing else', () => {
    expect(allowedTools(1).sort()).toEqual([...TIER1].sort());
    expect(decide(compileRules(tierDefaults(1)), 'some_future_tool', {}, NO_ROUTES).allowed).toBe(false);
  });

  it('tier 2 may call its listed tools, and send_message only to routed chats', () => {
    expect(allowedTools(2).sort()).toEqual([...TIER2].sort());
    const compiled = compileRules(tierDefaults(2));
    const ctx = routed(['tg:1']);
    expect(decide(compiled, 'send_message', { chat: 'TG:1', text: 'hi' }, ctx).allowed).toBe(true);
    const other = decide(compiled, 'send_message', { chat: 'tg:2', text: 'hi' }, ctx);
    expect(other.allowed).toBe(false);
    expect(other.reason).toContain('send_message(chat=$routed)');
    for (const tool of ['create_group', 'delegate_group', 'grant', 'issue_token', 'set_route']) {
      expect(decide(compiled, tool, {}, ctx).allowed).toBe(false);
    }
  });
});

describe('effectiveRules', () => {
  const grants = (text: string, tenant: string) => parseGrants(text, `/t/tenants/${tenant}/grants`, tenant).rules;

  it('is tier defaults, then own rules, then ancestor deny rules', () => {
    const own = grants('create_group\n!like', 'acme/support');
    const acme = grants('!send_file\nissue_token', 'acme');
    const root = grants('!fork_topic', 'root');
    const rules = effectiveRules(2, own, [
      { path: 'acme', rules: acme },
      { path: 'root', rules: root },
    ]);
    expect(rules.map((r) => r.text)).toEqual([
      ...tierDefaults(2).map((r) => r.text),
      'create_group',
      '!like',
      '!send_file',
      '!fork_topic',
    ]);
  });

  it('an ancestor deny narrows the subtree; an ancestor allow does not widen it', () => {
    const acme = grants('!send_file(path=secret/**)\nissue_token', 'acme');
    const compiled = compileRules(effectiveRules(2, [], [{ path: 'acme', rules: acme }]));
    const denied = decide(compiled, 'send_file', { chat: 'tg:1', path: '/home/node/secret/x' }, NO_ROUTES);
    expect(denied).toMatchObject({ allowed: false, reason: 'denied by rule "!send_file(path=secret/**)" (tenants/acme/grants:1)' });
    expect(decide(compiled, 'send_file', { path: 'public/x' }, NO_ROUTES).allowed).toBe(true);
    expect(decide(compiled, 'issue_token', {}, NO_ROUTES).allowed).toBe(false);
  });

  it('a root deny applies to a world', () => {
    const root = grants('!issue_token', 'root');
    const compiled = compileRules(effectiveRules(1, [], [{ path: 'root', rules: root }]));
    expect(decide(compiled, 'issue_token', {}, NO_ROUTES).allowed).toBe(false);
    expect(decide(compiled, 'list_tokens', {}, NO_ROUTES).allowed).toBe(true);
  });
});

describe('workers\' rules', () => {
  const grants = (text: string, tenant: string) => parseGrants(text, `/t/tenants/${tenant}/grants`, tenant).rules;
  const asWorker = (tier: Tier, own: string, ancestors: { path: string; text: string }[] = []) => {
    const tenant = own.length ? grants(own, tier === 1 ? 'acme' : 'acme/team') : [];
    const anc = ancestors.map((a) => ({ path: a.path, rules: grants(a.text, a.path) }));
    const base = compileRules(effectiveRules(tier, tenant, anc));
    const worker = compileRules(workerRules(tenant, anc));
    return (tool: string, args: Record<string, unknown> = {}) => decideAsWorker(base, worker, tool, args, routed(['tg:1']));
  };

  it('by default a worker of a world may only read: no messaging, no spawning, no handing work on', () => {
    const call = asWorker(1, '');
    expect(ALL_TOOLS.filter((t) => call(t).allowed).sort()).toEqual(['list_groups', 'list_workers', 'whoami']);
    const denied = call('send_message', { chat: 'tg:1', text: 'hi' });
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toMatch(/^a worker may not make this call: no rule allows "send_message"/);
    for (const r of workerDefaults()) expect(r.source).toEqual({ kind: 'worker-default' });
  });

  it('a worker: line widens the workers within what the tenant itself may do, never beyond', () => {
    const call = asWorker(2, 'worker: send_message(chat=tg:*)\nworker: spawn_worker');
    expect(call('send_message', { chat: 'tg:1', text: 'hi' }).allowed).toBe(true); // tier 2: routed chats only
    expect(call('send_message', { chat: 'tg:2', text: 'hi' }).allowed).toBe(false); // allowed to workers, not to the team
    expect(call('spawn_worker', { brief: 'x' }).allowed).toBe(false); // the team itself has no spawn_worker
  });

  it('a worker: deny narrows the workers and leaves the tenant alone; an ancestor\'s worker: deny narrows its subtree', () => {
    const own = grants('worker: !whoami', 'acme');
    expect(decide(compileRules(effectiveRules(1, own, [])), 'whoami', {}, NO_ROUTES).allowed).toBe(true);
    expect(asWorker(1, 'worker: !whoami')('whoami').reason).toContain('denied by rule "worker: !whoami" (tenants/acme/grants:1)');
    const team = asWorker(2, 'worker: list_routes', [{ path: 'acme', text: 'worker: !list_groups\nworker: whoami' }]);
    expect(team('list_groups').allowed).toBe(false);
    expect(team('whoami').allowed).toBe(true); // the ancestor's worker: allow does not matter; the default allows it
  });

  it('worker: lines say nothing about the tenant itself', () => {
    const own = grants('worker: spawn_worker', 'acme/team');
    expect(effectiveRules(2, own, []).map((r) => r.text)).toEqual(tierDefaults(2).map((r) => r.text));
    expect(decide(compileRules(effectiveRules(2, own, [])), 'spawn_worker', { brief: 'x' }, NO_ROUTES).allowed).toBe(false);
  });
});
