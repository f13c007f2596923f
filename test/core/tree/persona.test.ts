import { describe, expect, it } from 'vitest';
import { parsePersona, personaSchema, subtreePlacement } from '../../../core/tree/persona.js';

const F = '/t/acme/PERSONA.md';

describe('parsePersona: valid files', () => {
  it('reads every field and the body', () => {
    const text = [
      '---',
      'name: Acme',
      'description: Front desk',
      'harness: script',
      'model: claude-sonnet-4-5',
      'limits:',
      '  memory_mb: 512',
      '  cpus: 0.5',
      '  pids: 64',
      '  timeout_s: 30',
      'env: [API_TOKEN, _X1]',
      'script:',
      '  - reply: hi',
      'always_on: true',
      'idle_timeout: 120',
      'mounts:',
      '  - host: /srv/data',
      '    container: /data',
      '    readonly: true',
      '---',
      'You are the front desk.',
      '',
    ].join('\n');
    const { persona, errors } = parsePersona(text, F);
    expect(errors).toEqual([]);
    expect(persona).toEqual({
      frontmatter: {
        name: 'Acme',
        description: 'Front desk',
        harness: 'script',
        model: 'claude-sonnet-4-5',
        limits: { memory_mb: 512, cpus: 0.5, pids: 64, timeout_s: 30 },
        env: ['API_TOKEN', '_X1'],
        script: [{ reply: 'hi' }],
        always_on: true,
        idle_timeout: 120,
        mounts: [{ host: '/srv/data', container: '/data', readonly: true }],
      },
      body: 'You are the front desk.\n',
    });
  });

  it.each([
    ['no front matter at all', 'Just instructions.\n', {}, 'Just instructions.\n'],
    ['empty front matter', '---\n---\nBody\n', {}, 'Body\n'],
    ['comment-only front matter', '---\n# nothing yet\n---\nBody\n', {}, 'Body\n'],
    ['empty file', '', {}, ''],
    ['CRLF line endings', '---\r\nname: A\r\n---\r\nBody\r\n', { name: 'A' }, 'Body\r\n'],
  ])('%s', (_label, text, frontmatter, body) => {
    const { persona, errors } = parsePersona(text, F);
    expect(errors).toEqual([]);
    expect(persona).toEqual({ frontmatter, body });
  });
});

describe('parsePersona: errors name the file and line', () => {
  const cases: [string, string, number, RegExp][] = [
    ['unknown top-level key', '---\nname: A\nmodle: x\n---\n', 3, /unknown key "modle" \(allowed: name, description/],
    ['a misspelt key gets a suggestion', '---\nname: A\nmodle: x\n---\n', 3, /unknown key "modle" \(allowed: .*\) \(did you mean "model"\?\)$/],
    ['a misspelt limit gets a suggestion', '---\nlimits:\n  memroy_mb: 5\n---\n', 3, /\(did you mean "memory_mb"\?\)$/],
    ['unknown key under limits', '---\nname: A\nlimits:\n  cpus: 1\n  memroy_mb: 5\n---\n', 5, /unknown key "limits\.memroy_mb"/],
    ['unknown key in a mount', '---\nmounts:\n  - host: /a\n    container: /b\n    rw: true\n---\n', 5, /unknown key "mounts\[0\]\.rw"/],
    ['bad harness', '---\nname: A\nharness: docker\n---\n', 3, /"harness"/],
    ['negative cpus', '---\nlimits:\n  memory_mb: 5\n  cpus: -1\n---\n', 4, /"limits\.cpus"/],
    ['zero timeout', '---\nlimits:\n  timeout_s: 0\n---\n', 3, /"limits\.timeout_s"/],
    ['fractional pids', '---\nlimits:\n  pids: 1.5\n---\n', 3, /"limits\.pids"/],
    ['infinite memory', '---\nlimits:\n  memory_mb: .inf\n---\n', 3, /"limits\.memory_mb"/],
    ['lowercase env name', '---\nname: A\nenv:\n  - GOOD\n  - bad_name\n---\n', 5, /"env\[1\]": must be an environment variable name/],
    ['env not a list', '---\nenv: API_TOKEN\n---\n', 2, /"env"/],
    ['always_on as string', '---\nalways_on: "yes"\n---\n', 2, /"always_on"/],
    ['zero idle timeout', '---\nalways_on: true\nidle_timeout: 0\n---\n', 3, /"idle_timeout"/],
    ['fractional idle timeout', '---\nidle_timeout: 1.5\n---\n', 2, /"idle_timeout"/],
    ['mount without container', '---\nmounts:\n  - host: /a\n---\n', 3, /"mounts\[0\]\.container"/],
    ['second mount bad', '---\nmounts:\n  - host: /a\n    container: /b\n  - host: /c\n    container: 5\n---\n', 6, /"mounts\[1\]\.container"/],
    ['YAML syntax error', '---\nname: A\n  bad: [\n---\n', 3, /invalid YAML front matter: bad indentation/],
    ['duplicate key', '---\nname: A\nname: B\n---\n', 3, /duplicated mapping key/],
    ['front matter is a list', '---\n- a\n- b\n---\n', 2, /must be a mapping/],
    ['front matter is a scalar', '---\njust text\n---\n', 2, /must be a mapping/],
    ['never closed', '---\nname: A\nbody without end\n', 1, /never closed/],
    ['javascript front matter is never evaluated', '---js\n{ name: (() => { throw new Error("ran") })() }\n---\n', 1, /language "js" is not supported/],
    ['json front matter', '---json\n{"name": "A"}\n---\n', 1, /language "json" is not supported/],
  ];
  it.each(cases)('%s', (_label, text, line, message) => {
    const { persona, errors } = parsePersona(text, F);
    expect(persona).toBeNull();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: F, line });
    expect(errors[0]!.message).toMatch(message);
  });

  it('reports every unknown key, each on its own line', () => {
    const { errors } = parsePersona('---\nnmae: A\ndescription: d\nmdoel: x\n---\n', F);
    expect(errors.map((e) => [e.line, e.message.split(' (')[0]])).toEqual([
      [2, 'unknown key "nmae"'],
      [4, 'unknown key "mdoel"'],
    ]);
  });

  it('does not confuse a nested key with a top-level one of the same name', () => {
    const text = '---\nmounts:\n  - host: /a\n    container: /b\nname: 5\n---\n';
    expect(parsePersona(text, F).errors).toMatchObject([{ line: 5, message: expect.stringMatching(/^"name"/) }]);
  });
});

describe('parsePersona: channels', () => {
  it('reads the wiring, canonical, with the line of each entry', () => {
    const text = [
      '---',
      'channels:',
      '  - chat: TG:-1001234',
      '    session: per-thread',
      '    engage: pattern',
      '    pattern: "^!ask"',
      '    senders: [tg:5551234]',
      '    unknown: strict',
      '    others: accumulate',
      '  - chat: local:ops',
      '---',
      '',
    ].join('\n');
    const { persona, errors } = parsePersona(text, F);
    expect(errors).toEqual([]);
    expect(persona!.frontmatter.channels).toEqual([
      { chat: 'tg:-1001234', session: 'per-thread', engage: 'pattern', pattern: '^!ask', senders: ['tg:5551234'], unknown: 'strict', others: 'accumulate' },
      { chat: 'local:ops' },
    ]);
    expect(persona!.channelLines).toEqual([3, 10]);
  });

  const cases: [string, string, number, RegExp][] = [
    ['a chat id without a platform', '---\nchannels:\n  - chat: ops\n---\n', 3, /"channels\[0\]\.chat": a chat id is "<platform>:<id>"/],
    ['a chat id with a space', '---\nchannels:\n  - chat: "tg:1 2"\n---\n', 3, /"channels\[0\]\.chat": a chat id contains U\+0020/],
    ['a full-width chat id', '---\nchannels:\n  - chat: "tg:１"\n---\n', 3, /compatibility form/],
    ['an unknown session', '---\nchannels:\n  - chat: tg:1\n    session: private\n---\n', 4, /"channels\[0\]\.session"/],
    ['an unknown key, with a suggestion', '---\nchannels:\n  - chat: tg:1\n    engaeg: always\n---\n', 4, /unknown key "channels\[0\]\.engaeg" .*did you mean "engage"/],
    ['a pattern that does not compile', '---\nchannels:\n  - chat: tg:1\n    engage: pattern\n    pattern: "(a"\n---\n', 5, /not a regular expression/],
    ['a pattern that is too long', `---\nchannels:\n  - chat: tg:1\n    engage: pattern\n    pattern: "${'a'.repeat(300)}"\n---\n`, 5, /"channels\[0\]\.pattern"/],
    ['engage pattern without a pattern', '---\nchannels:\n  - chat: tg:1\n    engage: pattern\n---\n', 3, /needs a pattern/],
    ['a pattern without engage pattern', '---\nchannels:\n  - chat: tg:1\n    pattern: x\n---\n', 4, /only with engage: pattern/],
    ['a sender breaking the chat-id rule', '---\nchannels:\n  - chat: tg:1\n    senders: ["tg:5%20"]\n---\n', 4, /a sender id contains "%"/],
    ['others neither drop nor accumulate', '---\nchannels:\n  - chat: tg:1\n    others: keep\n---\n', 4, /"channels\[0\]\.others"/],
    ['a chat wired twice (any spelling)', '---\nchannels:\n  - chat: tg:1\n  - chat: TG:1\n---\n', 4, /tg:1 is wired twice/],
  ];
  it.each(cases)('%s', (_label, text, line, message) => {
    const { persona, errors } = parsePersona(text, F);
    expect(persona).toBeNull();
    expect(errors[0]).toMatchObject({ file: F, line });
    expect(errors[0]!.message).toMatch(message);
  });
});

describe('personaSchema', () => {
  it('is strict at every level', () => {
    expect(personaSchema.safeParse({ limits: { cpus: 1, gpus: 1 } }).success).toBe(false);
    expect(personaSchema.safeParse({ mounts: [{ host: '/a', container: '/b', mode: 'rw' }] }).success).toBe(false);
    expect(personaSchema.safeParse({}).success).toBe(true);
  });
});

describe('parsePersona: hostile YAML is refused, not expanded', () => {
  it('billion laughs via aliases', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const text = `---\nscript:\n${levels.map((l) => `  ${l}`).join('\n')}\n---\n`;
    const { persona, errors } = parsePersona(text, F);
    expect(persona).toBeNull();
    expect(errors).toEqual([{ file: F, line: 1, message: expect.stringMatching(/too large/) }]);
  });

  it('deep nesting', () => {
    const text = `---\nscript: ${'['.repeat(100)}1${']'.repeat(100)}\n---\n`;
    expect(parsePersona(text, F).errors).toEqual([{ file: F, line: 1, message: expect.stringMatching(/nested more than 64/) }]);
  });

  it('a file of nothing but typos reports a bounded number of errors', () => {
    const text = `---\n${Array.from({ length: 5000 }, (_, i) => `k${i}: 1`).join('\n')}\n---\n`;
    const { errors } = parsePersona(text, F);
    expect(errors).toHaveLength(21);
    expect(errors[0]).toMatchObject({ line: 2, message: expect.stringMatching(/^unknown key "k0"/) });
    expect(errors[20]).toEqual({ file: F, line: 0, message: '4980 more problems not shown' });
  });
});

describe('parsePersona: builtin_skills and harness openai', () => {
  it('accepts builtin_skills: false and harness: openai', () => {
    const { persona, errors } = parsePersona('---\nharness: openai\nmodel: qwen\nbuiltin_skills: false\n---\n', F);
    expect(errors).toEqual([]);
    expect(persona?.frontmatter).toEqual({ harness: 'openai', model: 'qwen', builtin_skills: false });
  });
  it('refuses a builtin_skills that is not a boolean, with its line', () => {
    const { persona, errors } = parsePersona('---\nname: a\nbuiltin_skills: [ralph-loop]\n---\n', F);
    expect(persona).toBeNull();
    expect(errors).toEqual([{ file: F, line: 3, message: expect.stringContaining('"builtin_skills"') }]);
  });
});

describe('parsePersona: web', () => {
  it('accepts web: true', () => {
    const { persona, errors } = parsePersona('---\nname: a\nweb: true\n---\n', F);
    expect(errors).toEqual([]);
    expect(persona?.frontmatter.web).toBe(true);
  });
  it('refuses a web that is not a boolean, with its line', () => {
    const { persona, errors } = parsePersona('---\nname: a\nweb: yes please\n---\n', F);
    expect(persona).toBeNull();
    expect(errors).toEqual([{ file: F, line: 3, message: expect.stringContaining('"web"') }]);
  });
});

describe('parsePersona: placement (Swarm constraints)', () => {
  it('reads constraints in canonical form', () => {
    const text = '---\nplacement:\n  - node.labels.gpu==true\n  - "node.hostname != edge-1"\n  - node.role==worker\n  - engine.labels.zone==eu-west\n---\n';
    const { persona, errors } = parsePersona(text, F);
    expect(errors).toEqual([]);
    expect(persona?.frontmatter.placement).toEqual(['node.labels.gpu==true', 'node.hostname!=edge-1', 'node.role==worker', 'engine.labels.zone==eu-west']);
  });

  // Each typo would otherwise become a constraint Swarm reads differently (or not at all): refused, with its line.
  it.each([
    ['a single =', '  - node.labels.gpu=true', /"placement\[1\]": a placement constraint is/],
    ['misspelt attribute', '  - node.label.gpu==true', /"node\.label\.gpu" is not a Swarm attribute/],
    ['no operator', '  - node.labels.gpu', /a placement constraint is/],
    ['two constraints in one', '  - node.labels.gpu==true node.role==worker', /a placement constraint is/],
    ['an unknown role', '  - node.role==boss', /node\.role is "manager" or "worker"/],
    ['a value with a comma', '  - node.labels.gpu==a,b', /is not a plain value/],
    ['an empty label name', '  - node.labels.==x', /is not a Swarm attribute/],
    ['not a string', '  - 5', /"placement\[1\]"/],
  ])('%s', (_label, line, message) => {
    const text = `---\nplacement:\n  - node.role==worker\n${line}\n---\n`;
    const { persona, errors } = parsePersona(text, F);
    expect(persona).toBeNull();
    expect(errors).toEqual([{ file: F, line: 4, message: expect.stringMatching(message) }]);
  });
});

describe('subtreePlacement: an ancestor’s placement holds for its whole subtree', () => {
  const tree = (placements: Record<string, readonly string[] | 'broken'>) => (path: string) => placements[path];
  it.each([
    ['a group with none of its own, below a pinned world', 'acme/ops', { acme: ['node.labels.world==acme'], 'acme/ops': [] }, ['node.labels.world==acme']],
    ['its own constraints are added, never replacing', 'acme/ops', { acme: ['node.labels.world==acme'], 'acme/ops': ['node.labels.gpu==true'] }, ['node.labels.world==acme', 'node.labels.gpu==true']],
    ['every ancestor counts', 'acme/ops/a', { acme: ['node.labels.world==acme'], 'acme/ops': ['node.labels.team==ops'], 'acme/ops/a': [] }, ['node.labels.world==acme', 'node.labels.team==ops']],
    ['no one pins it', 'acme', { acme: [] }, []],
    ['root’s placement is its own agent’s, not every world’s', 'acme', { root: ['node.role==manager'], acme: [] }, []],
    ['a repeated constraint once', 'acme/ops', { acme: ['node.role==worker'], 'acme/ops': ['node.role==worker'] }, ['node.role==worker']],
  ] as const)('%s', (_label, tenant, placements, expected) => {
    expect(subtreePlacement(tenant, tree(placements))).toEqual(expected);
  });

  it('throws for a broken ancestor: its placement is unknown, and the run must not go to any node', () => {
    expect(() => subtreePlacement('acme/ops', tree({ acme: 'broken', 'acme/ops': [] }))).toThrow(/acme has no valid configuration/);
  });
});
