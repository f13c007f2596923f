import { describe, it, expect } from 'vitest';
import { explainDecision } from '../../../core/grants/explain.js';
import { compileRules, NO_ROUTES } from '../../../core/grants/evaluate.js';
import { describeRule, sourceLabel } from '../../../core/grants/describe.js';
import { effectiveRules } from '../../../core/grants/effective.js';
import { tierDefaults } from '../../../core/grants/defaults.js';
import { rules, routedTo } from './helpers.js';

describe('describeRule and sourceLabel', () => {
  it('reads like the docs', () => {
    const routed = tierDefaults(2).find((r) => r.tool === 'send_message')!;
    expect(describeRule(routed)).toBe('allow send_message(chat=$routed) [tier 2 default]');
    const [, like] = rules('reply\n!like');
    expect(describeRule(like!)).toBe('deny !like [tenants/acme/grants:2]');
    expect(sourceLabel({ kind: 'file', file: '/x/y/tenants/acme/support/grants', line: 7, tenant: 'acme/support' })).toBe(
      'tenants/acme/support/grants:7',
    );
  });
});

describe('explainDecision', () => {
  const own = rules('send_message(chat=tg:*)\n!send_message(chat=tg:666)', 'acme/support');
  const acme = rules('!send_message(chat=tg:9*)\ncreate_group', 'acme');
  const effective = effectiveRules(2, own, [{ path: 'acme', rules: acme }]);

  it('gives the decision, the deciding rule, its source and every rule that applied', () => {
    const e = explainDecision(effective, 'send_message', { chat: 'tg:91' }, routedTo('tg:91'));
    expect(e.allowed).toBe(false);
    expect(e.decision.allowed).toBe(false);
    expect(e.rule?.text).toBe('!send_message(chat=tg:9*)');
    expect(e.source).toBe('tenants/acme/grants:1');
    expect(e.listed).toBe(true);
    expect(e.applied.map((a) => [a.description, a.holds])).toEqual([
      ['allow send_message(chat=$routed) [tier 2 default]', true],
      ['allow send_message(chat=tg:*) [tenants/acme/support/grants:1]', true],
      ['deny !send_message(chat=tg:666) [tenants/acme/support/grants:2]', false],
      ['deny !send_message(chat=tg:9*) [tenants/acme/grants:1]', true],
    ]);
  });

  it('an allowed call names its rule; an unmatched call has none', () => {
    const ok = explainDecision(compileRules(effective), 'send_message', { chat: 'tg:1' }, NO_ROUTES);
    expect(ok).toMatchObject({ allowed: true, source: 'tenants/acme/support/grants:1' });
    const none = explainDecision(effective, 'create_group', {}, NO_ROUTES);
    expect(none).toMatchObject({ allowed: false, rule: null, source: null, listed: false, applied: [] });
    expect(none.decision.reason).toBe('no rule allows "create_group" for this tenant');
  });
});
