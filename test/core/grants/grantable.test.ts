import { describe, it, expect } from 'vitest';
import { grantable } from '../../../core/grants/grantable.js';
import { tierDefaults } from '../../../core/grants/defaults.js';
import { rule, rules } from './helpers.js';

describe('grantable', () => {
  const caller = rules(
    [
      'send_message(chat=tg:*)',
      'send_file(chat=$routed, path=reports/**)',
      'reply(!reply_to)',
      'observe_*',
      'like(reaction=ok*, !message_id)',
    ].join('\n'),
  );

  const cases: [string, boolean][] = [
    // deny rules only narrow
    ['!*', true],
    ['!issue_token', true],
    // identical and narrower allows
    ['send_message(chat=tg:*)', true],
    ['send_message(chat=tg:123)', true],
    ['send_message(chat=tg:123, text=hi)', true],
    ['send_file(chat=$routed, path=reports/q1.pdf)', true],
    ['send_file(chat=$routed, path=reports/**, caption=x)', true],
    ['reply(!reply_to)', true],
    ['observe_group', true],
    ['observe_*', true],
    ['like(reaction=ok1, !message_id)', true],
    // broader or different
    ['send_message', false],
    ['send_message(chat=tg:1*)', false], // a glob inside a glob: not proven, refused
    ['send_message(chat=slack:1)', false],
    ['send_message(chat=$routed)', false],
    ['send_message(text=x)', false],
    ['send_file(chat=tg:1, path=reports/a)', false], // $routed only by $routed
    ['send_file(chat=$routed, path=other/a)', false],
    ['send_file(chat=$routed)', false],
    ['reply', false],
    ['reply(reply_to=1)', false],
    ['observe_g*', false], // a different glob: not proven
    ['*', false],
    ['issue_token', false],
    ['like(reaction=ok1)', false],
  ];
  for (const [text, ok] of cases) {
    it(`${text} -> ${ok}`, () => {
      const r = grantable(caller, rule(text));
      expect(r.ok).toBe(ok);
    });
  }

  it('explains a refusal by the closest rule held', () => {
    const r = grantable(caller, rule('send_message(chat=slack:1)'));
    expect(r).toEqual({
      ok: false,
      reason:
        '"send_message(chat=slack:1)" is broader than what you hold: your rule "send_message(chat=tg:*)" requires ' +
        'chat=tg:*, so the granted rule must require the same or a literal value inside it',
    });
    const none = grantable(caller, rule('issue_token'));
    expect(none).toMatchObject({ ok: false });
    expect(!none.ok && none.reason).toContain('you can only grant what you hold');
  });

  it('ignores the caller deny rules (descendants inherit them) and never treats a deny as held', () => {
    expect(grantable(rules('!issue_token'), rule('issue_token')).ok).toBe(false);
  });

  it('tier 0 may grant anything; tier 1 only its tools; tier 2 only routed sends', () => {
    expect(grantable(tierDefaults(0), rule('*')).ok).toBe(true);
    expect(grantable(tierDefaults(1), rule('create_group(name=billing)')).ok).toBe(true);
    expect(grantable(tierDefaults(1), rule('*')).ok).toBe(false);
    expect(grantable(tierDefaults(2), rule('send_message(chat=$routed)')).ok).toBe(true);
    expect(grantable(tierDefaults(2), rule('send_message(chat=tg:1)')).ok).toBe(false);
    expect(grantable([], rule('whoami')).ok).toBe(false);
    expect(grantable([], rule('!whoami')).ok).toBe(true);
  });
});
