import { describe, it, expect } from 'vitest';
import { compileRules, decide, visibility, NO_ROUTES } from '../../../core/grants/evaluate.js';
import type { DecisionContext } from '../../../core/grants/types.js';
import { parseGrants } from '../../../core/grants/parse.js';
import { FILE, rules, routedTo } from './helpers.js';

type Call = [tool: string, args: Record<string, unknown>, allowed: boolean];

function check(text: string, calls: Call[], ctx: DecisionContext = NO_ROUTES) {
  const compiled = compileRules(rules(text));
  for (const [tool, args, allowed] of calls) {
    const d = decide(compiled, tool, args, ctx);
    expect({ tool, args, allowed: d.allowed }).toEqual({ tool, args, allowed });
  }
}

describe('decide', () => {
  it('an empty rule set denies everything', () => {
    const d = decide(compileRules([]), 'whoami', {}, NO_ROUTES);
    expect(d).toEqual({ allowed: false, rule: null, reason: 'no rule allows "whoami" for this tenant' });
  });

  it('deny wins over allow, in either order', () => {
    for (const text of ['send_message\n!send_message(chat=tg:*)', '!send_message(chat=tg:*)\nsend_message']) {
      const compiled = compileRules(rules(text));
      const d = decide(compiled, 'send_message', { chat: 'tg:1', text: 'x' }, NO_ROUTES);
      expect(d.allowed).toBe(false);
      expect(d.rule?.text).toBe('!send_message(chat=tg:*)');
      const line = text.startsWith('!') ? 1 : 2;
      expect(d.reason).toBe(`denied by rule "!send_message(chat=tg:*)" (tenants/acme/grants:${line})`);
      expect(decide(compiled, 'send_message', { chat: 'slack:c1', text: 'x' }, NO_ROUTES).allowed).toBe(true);
    }
  });

  it('names the allowing rule and its source', () => {
    const d = decide(compileRules(rules('# x\nreply')), 'reply', { text: 'x' }, NO_ROUTES);
    expect(d).toMatchObject({ allowed: true, reason: 'allowed by rule "reply" (tenants/acme/grants:2)' });
  });

  it('reports the first matching deny when several match', () => {
    const d = decide(compileRules(rules('*\n!like(message_id=1)\n!like\n!l*')), 'like', { message_id: 1 }, NO_ROUTES);
    expect(d.rule?.text).toBe('!like(message_id=1)');
  });

  it('tells the agent which forms are allowed when only the arguments are wrong', () => {
    const d = decide(compileRules(rules('send_message(chat=tg:1)')), 'send_message', { chat: 'tg:2' }, NO_ROUTES);
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      'no rule allows "send_message" with these arguments for this tenant; allowed forms: "send_message(chat=tg:1)" (tenants/acme/grants:1)',
    );
  });

  it('matches tool globs', () => {
    check('send_*\n!send_file', [
      ['send_message', {}, true],
      ['send_file', {}, false],
      ['reply', {}, false],
    ]);
  });

  it('arg=value: present, comparable and matching', () => {
    check('send_message(chat=tg:*)', [
      ['send_message', { chat: 'tg:1' }, true],
      ['send_message', { chat: ' TG:1 ' }, true], // canonicalised
      ['send_message', { chat: 'slack:1' }, false],
      ['send_message', {}, false],
      ['send_message', { text: 'tg:1' }, false],
    ]);
  });

  it('numbers compare as their string form', () => {
    check('reply(reply_to=42)', [
      ['reply', { reply_to: 42 }, true],
      ['reply', { reply_to: '42' }, true],
      ['reply', { reply_to: 42.5 }, false],
      ['reply', { reply_to: Number.NaN }, false],
      ['reply', { reply_to: Number.POSITIVE_INFINITY }, false],
    ]);
  });

  it('!arg holds only when the argument is absent', () => {
    check('reply(!reply_to)', [
      ['reply', { text: 'x' }, true],
      ['reply', { text: 'x', reply_to: undefined }, true],
      ['reply', { text: 'x', reply_to: 1 }, false],
      ['reply', { text: 'x', reply_to: null }, false],
    ]);
  });

  it('values that are not strings or finite numbers never satisfy an allow predicate', () => {
    check('send_message(chat=**)', [
      ['send_message', { chat: 'x' }, true],
      ['send_message', { chat: { toString: () => 'x' } }, false],
      ['send_message', { chat: ['x'] }, false],
      ['send_message', { chat: true }, false],
      ['send_message', { chat: null }, false],
    ]);
  });

  it('... and always satisfy a deny predicate, so they cannot dodge a deny', () => {
    check('send_file\n!send_file(chat=secret:*)\n!send_file(!path)', [
      ['send_file', { chat: 'public:1', path: 'a' }, true],
      ['send_file', { chat: 'secret:1', path: 'a' }, false],
      ['send_file', { chat: ['secret:1'], path: 'a' }, false],
      ['send_file', { chat: 'public:1', path: null }, false],
      ['send_file', { chat: 'public:1' }, false],
    ]);
  });

  it('$routed matches chats routed to the caller (canonical form), and only those', () => {
    const ctx = routedTo('tg:1', 'local:ops');
    check(
      'send_message(chat=$routed)',
      [
        ['send_message', { chat: 'tg:1' }, true],
        ['send_message', { chat: 'LOCAL:OPS' }, true],
        ['send_message', { chat: 'tg:2' }, false],
        ['send_message', {}, false],
        ['send_message', { chat: 7 }, false],
      ],
      ctx,
    );
  });

  it('a failing routing lookup denies', () => {
    const broken: DecisionContext = {
      isRoutedChat: () => {
        throw new Error('db gone');
      },
    };
    check('send_message(chat=$routed)', [['send_message', { chat: 'tg:1' }, false]], broken);
    check('send_message\n!send_message(chat=$routed)', [['send_message', { chat: 'tg:1' }, false]], broken);
  });

  it('canonicalises path, refusing escapes before any rule', () => {
    check('send_file(path=reports/**)\n!send_file(path=reports/secret/**)', [
      ['send_file', { path: 'reports/a.pdf' }, true],
      ['send_file', { path: '/home/node/reports/a.pdf' }, true],
      ['send_file', { path: 'reports/x/../b.pdf' }, true],
      ['send_file', { path: 'reports/secret/../../reports/secret/k' }, false],
      ['send_file', { path: 'reports/./secret/k' }, false],
      ['send_file', { path: 'a.pdf' }, false],
    ]);
    const d = decide(compileRules(rules('*')), 'send_file', { path: '../../etc/passwd' }, NO_ROUTES);
    expect(d).toMatchObject({ allowed: false, rule: null });
    expect(d.reason).toContain('inside your home folder (/home/node)');
    expect(decide(compileRules(rules('*')), 'send_file', { path: '/etc/passwd' }, NO_ROUTES).allowed).toBe(false);
    expect(decide(compileRules(rules('*')), 'send_message', { chat: '  ' }, NO_ROUTES).reason).toBe('argument "chat": a chat id is empty');
  });

  it('canonicalises tenant-path arguments', () => {
    check('delegate_group(group=acme/*)\n!delegate_group(group=acme/secret)', [
      ['delegate_group', { group: '/acme/support/' }, true],
      ['delegate_group', { group: 'acme//secret' }, false],
      ['delegate_group', { group: 'acme/a/b' }, false],
    ]);
  });

  it('reads own properties only: an inherited value is absent, and prototype names are no argument names', () => {
    const compiled = compileRules(rules('send_message(!text)\nreply(text=*)'));
    const inherited = Object.create({ text: 'from the prototype' });
    expect(decide(compiled, 'send_message', inherited, NO_ROUTES).allowed).toBe(true);
    expect(decide(compiled, 'reply', inherited, NO_ROUTES).allowed).toBe(false);
    expect(decide(compiled, 'reply', JSON.parse('{"__proto__": "a", "text": "t"}'), NO_ROUTES).allowed).toBe(true);
    const names = parseGrants('send_message(constructor=*)\nsend_message(!__proto__)', FILE, 'acme');
    expect(names.errors.map((e) => e.message)).toEqual([
      'send_message has no argument "constructor" (its arguments: chat, text)',
      'send_message has no argument "__proto__" (its arguments: chat, text)',
    ]);
  });

  it('never throws on odd input', () => {
    const compiled = compileRules(rules('*'));
    expect(decide(compiled, '', {}, NO_ROUTES).allowed).toBe(false);
    expect(decide(compiled, 'x', undefined, NO_ROUTES).allowed).toBe(true);
    expect(decide(compiled, 'x', [] as unknown as Record<string, unknown>, NO_ROUTES).allowed).toBe(false);
    expect(decide(compiled, 'x', 'str' as unknown as Record<string, unknown>, NO_ROUTES).allowed).toBe(false);
    expect(decide(compiled, 42 as unknown as string, {}, NO_ROUTES).allowed).toBe(false);
    const hostile = Object.defineProperty({}, 'chat', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(decide(compiled, 'send_message', hostile, NO_ROUTES)).toMatchObject({ allowed: false, rule: null });
  });

  it('uses the literal-value index without losing wildcard or earlier rules', () => {
    const many = Array.from({ length: 500 }, (_, i) => `send_message(chat=tg:${i})`).join('\n');
    const compiled = compileRules(rules(`${many}\n!send_message(chat=tg:4*)\nsend_message(chat=slack:*)\n!*(chat=tg:7)`));
    const d = (chat: unknown) => decide(compiled, 'send_message', { chat }, NO_ROUTES);
    expect(d('tg:3').allowed).toBe(true);
    expect(d('tg:3').rule?.source).toMatchObject({ line: 4 });
    expect(d('tg:499').allowed).toBe(false); // the glob deny
    expect(d('tg:7').reason).toContain('!*(chat=tg:7)'); // a wildcard-tool deny keyed on a literal
    expect(d('tg:500').allowed).toBe(false);
    expect(d('slack:x').allowed).toBe(true);
    expect(d(['tg:3']).allowed).toBe(false);
    expect(decide(compiled, 'like', { chat: 'tg:7' }, NO_ROUTES).allowed).toBe(false);
  });

  it('decides tool names outside ALL_TOOLS too (and keeps deciding once its cache is full)', () => {
    const compiled = compileRules(rules('*\n!*e*'));
    for (let i = 0; i < 600; i++) {
      const name = i % 2 === 0 ? `tool_${i}` : `tool_e${i}`;
      expect(decide(compiled, name, {}, NO_ROUTES).allowed).toBe(i % 2 === 0);
    }
  });
});

describe('visibility', () => {
  const compiled = compileRules(
    rules('send_*\n!send_file\n!send_message(chat=tg:*)\nreply(text=x)\n!reply(text=y)\n!like\nlike'),
  );

  it.each([
    ['send_message', true], // denied only for some arguments
    ['send_file', false], // argument-free deny
    ['reply', true],
    ['like', false],
    ['whoami', false], // nothing allows it
  ])('%s listed=%s', (tool, listed) => {
    expect(visibility(compiled, tool).listed).toBe(listed);
  });

  it('returns every rule whose tool glob matches, in order', () => {
    expect(visibility(compiled, 'send_message').rules.map((r) => r.text)).toEqual(['send_*', '!send_message(chat=tg:*)']);
    expect(visibility(compiled, 'whoami').rules).toEqual([]);
  });
});
