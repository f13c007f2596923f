// The turn loop's pure decisions, by table.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../gateway/limits.js';
import { planEffects, recoveryFor, sessionFor, turnOutcome, type Outcome, type RunEnd } from '../../gateway/turn-plan.js';
import { fairOrder } from '../../gateway/turns.js';
import { withinBudget } from '../../gateway/run-store.js';

const base: RunEnd = { submitted: null, exit: { exitCode: 0, timedOut: false, oomKilled: false }, startError: null, limits: DEFAULT_LIMITS };

describe('turnOutcome', () => {
  const cases: [string, Partial<RunEnd>, string, RegExp][] = [
    ['submitted ok', { submitted: { status: 'ok', result: 'hi', session: 's' } }, 'done', /^hi$/],
    ['submitted ok beats a non-zero exit', { submitted: { status: 'ok', result: 'hi' }, exit: { exitCode: 1, timedOut: false, oomKilled: false } }, 'done', /^hi$/],
    ['submitted error', { submitted: { status: 'error', result: 'bad script' } }, 'failed', /could not finish this turn: bad script/],
    ['could not start', { exit: null, startError: 'no image' }, 'failed', /could not be started: no image/],
    ['out of memory', { exit: { exitCode: 137, timedOut: false, oomKilled: true } }, 'failed', /ran out of memory \(limit 1024 MB\)/],
    ['out of time', { exit: { exitCode: 137, timedOut: true, oomKilled: false } }, 'failed', /ran out of time \(limit 600 s\)/],
    ['crashed', { exit: { exitCode: 3, timedOut: false, oomKilled: false } }, 'failed', /exit code 3/],
    ['silent exit 0', {}, 'failed', /without reporting a result/],
  ];
  for (const [name, end, status, text] of cases) {
    it(name, () => {
      const o = turnOutcome({ ...base, ...end });
      expect(o.status).toBe(status);
      expect(o.text).toMatch(text);
    });
  }
});

describe('planEffects', () => {
  const delegations = new Map([
    ['dlg_1', { id: 'dlg_1', kind: 'delegate' as const, from_tenant: 'acme', from_topic: 'main', from_chat: 'tg:1', depth: 1 }],
    ['dlg_2', { id: 'dlg_2', kind: 'escalate' as const, from_tenant: 'acme/support', from_topic: 'ops', from_chat: null, depth: 2 }],
  ]);

  it('replies to the last chat of the turn', () => {
    const e = planEffects('acme', [
      { id: 1, kind: 'chat', chat: 'tg:1', ref: null },
      { id: 2, kind: 'chat', chat: 'tg:2', ref: null },
    ], delegations, { status: 'done', text: 'ok', session: null });
    expect(e).toEqual([{ type: 'reply', chat: 'tg:2', text: 'ok' }]);
  });

  it('carries results back to each delegator once, and marks failures', () => {
    const e = planEffects('acme/support', [
      { id: 1, kind: 'delegation', chat: null, ref: 'dlg_1' },
      { id: 2, kind: 'delegation', chat: null, ref: 'dlg_1' },
      { id: 3, kind: 'escalation', chat: null, ref: 'dlg_2' },
    ], delegations, { status: 'failed', text: 'boom' });
    expect(e).toEqual([
      { type: 'result', delegation: 'dlg_1', to: 'acme', topic: 'main', chat: 'tg:1', depth: 1, status: 'failed', text: 'work delegated to acme/support (dlg_1) failed: boom' },
      { type: 'result', delegation: 'dlg_2', to: 'acme/support', topic: 'ops', chat: null, depth: 2, status: 'failed', text: 'work escalated to acme/support (dlg_2) failed: boom' },
    ]);
  });

  describe('the reply rule: the final answer goes to the chat only when the turn did not write there itself', () => {
    const claimed = [
      { id: 1, kind: 'chat' as const, chat: 'tg:1', ref: null },
      { id: 2, kind: 'delegation' as const, chat: null, ref: 'dlg_1' },
    ];
    const done = { status: 'done' as const, text: 'all set', session: null };
    const failed = { status: 'failed' as const, text: 'out of time' };
    it.each<[string, Outcome, string[], string[]]>([
      ['nothing sent: the answer is the reply', done, [], ['reply tg:1 all set', 'result dlg_1']],
      ['a reply sent to that chat: no second message', done, ['tg:1'], ['result dlg_1']],
      ['sent to another chat only: the answer still goes to this one', done, ['tg:9'], ['reply tg:1 all set', 'result dlg_1']],
      ['a failed turn is reported even after a reply', failed, ['tg:1'], ['reply tg:1 ⚠ out of time', 'result dlg_1']],
    ])('%s', (_name, outcome, sent, expected) => {
      const e = planEffects('acme/support', claimed, delegations, outcome, new Set(sent));
      expect(e.map((x) => (x.type === 'reply' ? `reply ${x.chat} ${x.text}` : `result ${x.delegation}`))).toEqual(expected);
    });
  });

  it('prefixes failed replies so people can tell them from answers', () => {
    const [reply] = planEffects('acme', [{ id: 1, kind: 'chat', chat: 'local:ann', ref: null }], delegations, { status: 'failed', text: 'out of time' });
    expect(reply).toMatchObject({ type: 'reply', text: '⚠ out of time' });
  });
});

describe('recoveryFor', () => {
  it('re-queues a first attempt exactly once and fails a re-run', () => {
    expect(recoveryFor({ attempt: 1 })).toBe('requeue');
    expect(recoveryFor({ attempt: 2 })).toBe('fail');
  });
});

describe('sessionFor', () => {
  it.each([
    ['a topic with no record yet', undefined, { session: null, forkSession: false }],
    ['a topic with no session yet', { session: null, forked_from: null }, { session: null, forkSession: false }],
    ['a topic resuming its own session', { session: 's1', forked_from: null }, { session: 's1', forkSession: false }],
    ['a forked topic still on its parent’s session', { session: 'p1', forked_from: 'p1' }, { session: 'p1', forkSession: true }],
    ['a forked topic with a session of its own', { session: 'c1', forked_from: 'p1' }, { session: 'c1', forkSession: false }],
    ['a topic forked from a parent without a session', { session: null, forked_from: null }, { session: null, forkSession: false }],
  ])('%s', (_name, topic, expected) => {
    expect(sessionFor(topic)).toEqual(expected);
  });
});

describe('fairOrder', () => {
  const t = (tenant: string, n: number) => ({ tenant, topic: `t${n}` });
  it('interleaves worlds, least loaded first, oldest first within a world', () => {
    const pending = [t('acme/support', 1), t('acme', 2), t('acme/x', 3), t('globex', 4), t('globex/y', 5)];
    expect(fairOrder(pending, new Map()).map((p) => p.topic)).toEqual(['t1', 't4', 't2', 't5', 't3']);
    expect(fairOrder(pending, new Map([['acme', 2]])).map((p) => p.topic)).toEqual(['t4', 't5', 't1', 't2', 't3']);
  });
});

describe('withinBudget', () => {
  it('takes messages while their encoded size fits, and always at least one', () => {
    const m = (text: string) => ({ text });
    expect(withinBudget([m('aaaa'), m('bbbb'), m('cccc')], 13).map((r) => r.text)).toEqual(['aaaa', 'bbbb']);
    expect(withinBudget([m('x'.repeat(100))], 10)).toHaveLength(1);
    // Control characters count as JSON writes them (6 bytes each).
    expect(withinBudget([m('\u0001'.repeat(2)), m('y')], 14)).toHaveLength(1);
  });
});
