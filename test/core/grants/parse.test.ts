import { describe, it, expect } from 'vitest';
import { parseGrants, parseRuleText, stripComment, MAX_FILE_BYTES } from '../../../core/grants/parse.js';
import type { ArgPredicate } from '../../../core/grants/types.js';
import { DISGUISED_CHAT_IDS } from './helpers.js';

const FILE = '/srv/warren/tenants/acme/grants';

function one(line: string) {
  const r = parseGrants(line, FILE, 'acme');
  expect(r.errors).toEqual([]);
  expect(r.rules).toHaveLength(1);
  return r.rules[0]!;
}

describe('parseGrants: good lines', () => {
  const cases: [string, 'allow' | 'deny', string, ArgPredicate[]][] = [
    ['reply', 'allow', 'reply', []],
    ['!like', 'deny', 'like', []],
    ['*', 'allow', '*', []],
    ['send_*', 'allow', 'send_*', []],
    ['send_message(chat=tg:*)', 'allow', 'send_message', [{ name: 'chat', kind: 'match', glob: 'tg:*' }]],
    ['!send_message(chat=tg:*)', 'deny', 'send_message', [{ name: 'chat', kind: 'match', glob: 'tg:*' }]],
    ['send_message(chat=$routed)', 'allow', 'send_message', [{ name: 'chat', kind: 'routed' }]],
    ['send_message(chat="$routed")', 'allow', 'send_message', [{ name: 'chat', kind: 'match', glob: '$routed' }]],
    ['reply(!reply_to)', 'allow', 'reply', [{ name: 'reply_to', kind: 'absent' }]],
    [
      'send_file( chat = x , path=reports/** )'.replace(' = ', '='),
      'allow',
      'send_file',
      [
        { name: 'chat', kind: 'match', glob: 'x' },
        { name: 'path', kind: 'match', glob: 'reports/**' },
      ],
    ],
    ['fork_topic(child="a b, (c)")', 'allow', 'fork_topic', [{ name: 'child', kind: 'match', glob: 'a b, (c)' }]],
    ['reply(text="q\\"uote\\\\")', 'allow', 'reply', [{ name: 'text', kind: 'match', glob: 'q"uote\\' }]],
    ['reply(text="")', 'allow', 'reply', [{ name: 'text', kind: 'match', glob: '' }]],
    // canonicalised values: rules compare like with like
    ['send_message(chat=TG:*)', 'allow', 'send_message', [{ name: 'chat', kind: 'match', glob: 'tg:*' }]],
    ['send_file(path=/home/node/reports/**)', 'allow', 'send_file', [{ name: 'path', kind: 'match', glob: 'reports/**' }]],
    ['send_file(path=/home/node)', 'allow', 'send_file', [{ name: 'path', kind: 'match', glob: '.' }]],
    ['delegate_group(group=/acme//support/)', 'allow', 'delegate_group', [{ name: 'group', kind: 'match', glob: 'acme/support' }]],
    ['send_message(chat=slack:#general)', 'allow', 'send_message', [{ name: 'chat', kind: 'match', glob: 'slack:#general' }]],
    ['like(message_id=42)', 'allow', 'like', [{ name: 'message_id', kind: 'match', glob: '42' }]],
  ];
  for (const [line, effect, tool, args] of cases) {
    it(line, () => {
      const rule = one(line);
      expect(rule.effect).toBe(effect);
      expect(rule.tool).toBe(tool);
      expect(rule.args).toEqual(args);
      expect(rule.text).toBe(line.trim());
    });
  }

  it('keeps file, line and tenant as the source, skipping blanks and comments', () => {
    const text = ['# grants for acme', '', 'reply', '  !like   # no likes here', '\t', 'send_message(text="a # b")  # c'].join('\n');
    const r = parseGrants(text, FILE, 'acme');
    expect(r.errors).toEqual([]);
    expect(r.rules.map((x) => [x.text, x.source])).toEqual([
      ['reply', { kind: 'file', file: FILE, line: 3, tenant: 'acme' }],
      ['!like', { kind: 'file', file: FILE, line: 4, tenant: 'acme' }],
      ['send_message(text="a # b")', { kind: 'file', file: FILE, line: 6, tenant: 'acme' }],
    ]);
  });

  it('accepts CRLF line endings', () => {
    const r = parseGrants('reply\r\n!like\r\n', FILE, 'acme');
    expect(r.errors).toEqual([]);
    expect(r.rules.map((x) => x.text)).toEqual(['reply', '!like']);
  });

  it('an empty file has no rules and no errors', () => {
    expect(parseGrants('', FILE, 'acme')).toEqual({ rules: [], errors: [] });
  });
});

describe('parseGrants: bad lines', () => {
  const cases: [string, string][] = [
    ['send_message(chat=tg:*', 'unterminated "(": missing ")"'],
    ['send_message(', 'unterminated "(": missing ")"'],
    ['send_message(chat=a, chat=b)', 'duplicate argument "chat"'],
    ['send_file(path=$routed)', '$routed is only valid for chat'],
    ['send_message(chat=$me)', 'unknown variable "$me"'],
    ['send_message(chat=a"b")', 'unknown argument value syntax'],
    ['send_message(chat="a"b)', 'unknown argument value syntax'],
    ['send_message(chat="abc)', 'unterminated quoted value for argument "chat"'],
    ['send_message(chat="a\\nb")', 'unknown escape "\\n"'],
    ['Send_Message', 'invalid tool name "Send_Message"'],
    ['send-message', 'invalid tool name "send-message"'],
    ['!', 'expected a tool name right after "!"'],
    ['! like', 'expected a tool name right after "!"'],
    ['(chat=x)', 'missing tool name'],
    ['reply extra', 'unexpected "extra" after tool name'],
    ['reply() ', 'empty argument list "()"'],
    ['reply(a=1,)', 'trailing "," in argument list'],
    ['reply(a=1) x', 'unexpected "x" after ")"'],
    ['reply(a=1 b=2)', 'expected "," or ")" after argument "a"'],
    ['reply(chat)', 'expected "=" after argument "chat"'],
    ['reply(chat=)', 'missing value for argument "chat"'],
    ['reply(=x)', 'expected an argument name, found "="'],
    ['reply(Chat=x)', 'expected an argument name, found "C"'],
    ['reply(1a=x)', 'invalid argument name "1a"'],
    ['send_file(path=/etc/**)', 'is outside the home folder'],
    ['send_file(path=../x)', 'contains a ".." segment'],
    ['send_message(chat="  ")', 'argument "chat": is empty'],
    ['reply\u0000', 'control character (U+0000)'],
    ['x'.repeat(4097), 'line is longer than 4096 bytes'],
  ];
  for (const [line, message] of cases) {
    it(JSON.stringify(line.length > 60 ? line.slice(0, 20) + '…' : line), () => {
      const r = parseGrants(`reply\n${line}\n`, FILE, 'acme');
      expect(r.rules).toEqual([]);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]!.file).toBe(FILE);
      expect(r.errors[0]!.line).toBe(2);
      expect(r.errors[0]!.message).toContain(message);
    });
  }

  it('reports every bad line, and then yields no rules at all', () => {
    const r = parseGrants('reply\nBAD\nlike\nsend_message(\n', FILE, 'acme');
    expect(r.rules).toEqual([]);
    expect(r.errors.map((e) => e.line)).toEqual([2, 4]);
  });

  it('rejects a file over 1 MiB as a whole, without parsing it', () => {
    const r = parseGrants('#'.repeat(MAX_FILE_BYTES + 1), FILE, 'acme');
    expect(r.rules).toEqual([]);
    expect(r.errors).toEqual([{ file: FILE, line: 0, message: `grants file is larger than ${MAX_FILE_BYTES} bytes` }]);
  });

  it('measures lines in bytes, not characters', () => {
    // 2000 three-byte characters: 6000 bytes in 2000 characters.
    const r = parseGrants(`reply(text="${'€'.repeat(2000)}")`, FILE, 'acme');
    expect(r.errors[0]?.message).toContain('longer than 4096 bytes');
  });
});

describe('parseGrants: typos are errors, not rules that match nothing', () => {
  const cases: [string, string][] = [
    ['send_mesage', 'unknown tool "send_mesage" (did you mean "send_message"?)'],
    ['!send_mesage(chat=tg:1)', 'unknown tool "send_mesage" (did you mean "send_message"?)'],
    ['!delegate_grop', 'unknown tool "delegate_grop" (did you mean "delegate_group"?)'],
    ['frobnicate', 'unknown tool "frobnicate" (tools: send_message, reply,'],
    ['!send_message(chanel=tg:1)', 'send_message has no argument "chanel" (did you mean "chat"?) (its arguments: chat, text)'],
    ['send_file(pth=reports/**)', 'send_file has no argument "pth" (did you mean "path"?)'],
    ['!send_message(!chanel)', 'send_message has no argument "chanel" (did you mean "chat"?)'],
    ['whoami(verbose=1)', 'whoami takes no arguments, so "verbose" can never be given'],
    ['!sned_*', 'tool glob "sned_*" matches no tool'],
    ['*_thing', 'tool glob "*_thing" matches no tool'],
    ['!send_*(reply_to=1)', 'no tool matching "send_*" has an argument "reply_to" (their arguments: chat, text, path, caption)'],
    ['!*(chanel=tg:1)', 'no tool matching "*" has an argument "chanel" (did you mean "chat"?)'],
    ['list_*(x=1)', 'no tool matching "list_*" has an argument "x" (they take no arguments)'],
  ];
  for (const [line, message] of cases) {
    it(line, () => {
      const r = parseGrants(`reply\n${line}\n`, FILE, 'acme');
      expect(r.rules).toEqual([]);
      expect(r.errors).toEqual([{ file: FILE, line: 2, message: expect.stringContaining(message) }]);
    });
  }

  it('an argument of any tool the glob matches is accepted', () => {
    expect(one('!send_*(path=private/**)').args).toEqual([{ name: 'path', kind: 'match', glob: 'private/**' }]);
    expect(one('!*(chat=slack:c0ops)').tool).toBe('*');
  });
});

describe('parseGrants: a chat id no call could carry is an error, not a rule that never matches', () => {
  it.each(DISGUISED_CHAT_IDS)('%s', (_label, id, names) => {
    for (const value of [id, `"${id}"`]) {
      const line = `!send_message(chat=${value})`;
      const r = parseGrants(`reply\n${line}\n`, FILE, 'acme');
      // Control and separator characters are refused for the line as a whole, whitespace ends an unquoted value.
      if (/[\u2028\u2029\u0085\u001b]/.test(id) || (value === id && /\s/.test(id))) {
        expect(r).toMatchObject({ rules: [], errors: [{ file: FILE, line: 2 }] });
        continue;
      }
      expect(r.rules).toEqual([]);
      expect(r.errors).toEqual([{ file: FILE, line: 2, message: expect.stringMatching(names) }]);
      expect(r.errors[0]!.message).toMatch(/^argument "chat": (contains|is not in)/);
    }
  });
});

describe('stripComment', () => {
  it.each([
    ['reply # c', 'reply '],
    ['# all', ''],
    ['x(a=b#c)', 'x(a=b#c)'],
    ['x(a="b #c") #d', 'x(a="b #c") '],
    ['x(a="b\\" #c") #d', 'x(a="b\\" #c") '],
  ])('%j -> %j', (line, out) => {
    expect(stripComment(line)).toBe(out);
  });
});

describe('parseRuleText', () => {
  it('parses one rule with the given source', () => {
    const r = parseRuleText('send_message(chat=tg:1)', { kind: 'tier-default', tier: 1 });
    expect(r).toMatchObject({ ok: true, rule: { effect: 'allow', tool: 'send_message' } });
  });
  it.each([[''], ['  # only a comment'], ['a\nb'], ['Bad']])('refuses %j', (text) => {
    expect(parseRuleText(text, { kind: 'tier-default', tier: 1 }).ok).toBe(false);
  });
});

describe('parseGrants: worker: lines', () => {
  it('a worker: line is a rule for the tenant\'s workers, its prefix kept in the text', () => {
    const r = one('  worker: !send_message(chat=tg:*)  # no chatting');
    expect(r).toMatchObject({ role: 'worker', effect: 'deny', tool: 'send_message', text: 'worker: !send_message(chat=tg:*)' });
    expect(one('send_message').role).toBeUndefined();
  });

  it.each([
    ['worker:', '"worker:" needs a rule after it'],
    ['worker: # nothing', '"worker:" needs a rule after it'],
    ['worker: sendmessage', 'unknown tool "sendmessage"'],
    ['workers: reply', 'invalid tool name "workers:"'],
  ])('%s is an error with its line', (line, message) => {
    const r = parseGrants(`reply\n${line}`, FILE, 'acme');
    expect(r.rules).toEqual([]);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ file: FILE, line: 2 });
    expect(r.errors[0]!.message).toContain(message);
  });

  it('parseRuleText (a single rule, as `grant` gives it) has no worker: form', () => {
    expect(parseRuleText('worker: reply', { kind: 'worker-default' }).ok).toBe(false);
  });
});
