import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_RESULT_CHARS } from '../../core/turn.js';
import { runnerLog } from '../../images/agent/runner/log.js';
import { personaBodyOf, personaFile, readPersonaBody } from '../../images/agent/runner/persona.js';
import { fitResult } from '../../images/agent/runner/run-turn.js';
import { jsonProblem, parseTurn, readAll, readTurnText } from '../../images/agent/runner/turn-input.js';
import { turnInput } from './helpers.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('parseTurn', () => {
  it('accepts a valid turn and fills in defaults', () => {
    const { env: _env, ...withoutEnv } = turnInput();
    const parsed = parseTurn(JSON.stringify(withoutEnv));
    expect(parsed).toEqual({ ok: true, turn: { ...withoutEnv, env: {} } });
  });

  it.each<[string, string, RegExp]>([
    ['empty', '', /^no turn on stdin/],
    ['not JSON', '{nope', /^the turn on stdin is not valid JSON: /],
    ['an array', '[]', /not a valid TurnInput: turn: /],
    ['a wrong version', JSON.stringify({ ...turnInput(), version: 2 }), /turn\.version/],
    ['an unknown harness', JSON.stringify({ ...turnInput(), harness: 'gpt' }), /turn\.harness/],
    ['a bad message', JSON.stringify({ ...turnInput(), messages: [{ id: 'x' }] }), /turn\.messages\[0\]\.id/],
    ['a gated endpoint over plain http', JSON.stringify({ ...turnInput(), gated: { url: 'http://gated:7443/mcp', token: 't', ca: CA } }), /turn\.gated\.url: the gated endpoint must be an https/],
    ['a gated endpoint without a PEM CA', JSON.stringify({ ...turnInput(), gated: { url: 'https://gated:7443/mcp', token: 't', ca: 'x' } }), /turn\.gated\.ca/],
    ['a gated endpoint with an unknown key', JSON.stringify({ ...turnInput(), gated: { url: 'https://gated:7443/mcp', token: 't', ca: CA, insecure: true } }), /turn\.gated/],
  ])('refuses %s', (_name, text, problem) => {
    const parsed = parseTurn(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(problem);
  });

  it('never quotes the input back in a JSON error (it may carry secrets)', () => {
    const secret = 'sk-live-abcdef';
    for (const text of [`${secret}`, `{"env":{"K":"${secret}"`, `{"env":{"K":"${secret}"}} trailing`, `x${secret}`]) {
      const parsed = parseTurn(text);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).not.toContain('abcdef');
    }
    expect(jsonProblem(new SyntaxError('Unexpected token \'s\', "sk-live" is not valid JSON'))).toBe("Unexpected token 's'");
  });

  it('zod problems name the field, not the value', () => {
    const parsed = parseTurn(JSON.stringify({ ...turnInput(), env: { K: 12345678 }, model: 'x'.repeat(3) }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).not.toContain('12345678');
  });
});

describe('readAll', () => {
  it('reads a stream to the end', async () => {
    expect(await readAll(Readable.from([Buffer.from('ab'), Buffer.from('c')]))).toBe('abc');
  });
  it('stops at the size cap', async () => {
    await expect(readAll(Readable.from([Buffer.alloc(10), Buffer.alloc(10)]), 15)).rejects.toThrow(/exceeds 15 bytes/);
  });
});

describe('readTurnText: stdin, or the file a Swarm run gets its turn in', () => {
  const NNP = () => 'Name:\tnode\nNoNewPrivs:\t1\nSeccomp:\t2\n';
  it('reads stdin without WARREN_TURN_FILE', async () => {
    expect(await readTurnText({}, Readable.from([Buffer.from('{"a":1}')]), NNP)).toBe('{"a":1}');
  });
  it('reads the file WARREN_TURN_FILE names, not stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'turn-file-'));
    try {
      writeFileSync(join(dir, 'turn.json'), '{"from":"file"}');
      const text = await readTurnText({ WARREN_TURN_FILE: join(dir, 'turn.json') }, Readable.from([Buffer.from('stdin')]), NNP);
      expect(text).toBe('{"from":"file"}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('refuses a turn file in a container without no-new-privileges (a node set up wrong)', async () => {
    await expect(
      readTurnText({ WARREN_TURN_FILE: '/nonexistent' }, Readable.from([]), () => 'NoNewPrivs:\t0\n'),
    ).rejects.toThrow(/needs no-new-privileges/);
  });
});

describe('fitResult', () => {
  it('passes results inside the limits through', () => {
    expect(fitResult({ status: 'ok', result: 'x', session: 's' })).toEqual({ status: 'ok', result: 'x', session: 's' });
    expect(fitResult({ status: 'error', result: 'x' })).toEqual({ status: 'error', result: 'x' });
    expect(fitResult({ status: 'ok', result: 'x', session: null })).toEqual({ status: 'ok', result: 'x', session: null });
  });
  it('cuts an oversized result to the contract limit, marked, and drops an oversized session', () => {
    const fitted = fitResult({ status: 'ok', result: 'y'.repeat(MAX_RESULT_CHARS + 10), session: 's'.repeat(1025) });
    expect(fitted.result.length).toBe(MAX_RESULT_CHARS);
    expect(fitted.result.endsWith('…(truncated)')).toBe(true);
    expect(fitted.session).toBeNull();
  });
});

describe('persona body', () => {
  it('is the text after the front matter, trimmed; the whole text without front matter', () => {
    expect(personaBodyOf('---\nname: a\nharness: claude-code\n---\n\nBe kind.\n', 'P')).toEqual({ body: 'Be kind.', builtinSkills: true });
    expect(personaBodyOf('---\nbuiltin_skills: false\n---\nBe kind.\n', 'P')).toEqual({ body: 'Be kind.', builtinSkills: false });
    expect(personaBodyOf('Just text.\n', 'P')).toEqual({ body: 'Just text.', builtinSkills: true });
  });
  it('reports malformed front matter instead of using it', () => {
    const r = personaBodyOf('---\nname: [\n---\nbody', 'P');
    expect(r.body).toBe('');
    expect(r.problem).toMatch(/YAML/);
  });
  it('an absent file is no body and no problem; the path can be overridden', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-'));
    try {
      expect(readPersonaBody(join(dir, 'missing.md'))).toEqual({ body: '', builtinSkills: true });
      writeFileSync(join(dir, 'P.md'), '---\nname: x\n---\nHello.');
      expect(readPersonaBody(join(dir, 'P.md'))).toEqual({ body: 'Hello.', builtinSkills: true });
      expect(readPersonaBody(dir).problem).toMatch(/cannot read/);
      expect(personaFile({})).toBe('/etc/warren/PERSONA.md');
      expect(personaFile({ WARREN_PERSONA_FILE: '/x/P.md' })).toBe('/x/P.md');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runnerLog', () => {
  it('writes one JSON object per line at or above its level', () => {
    const lines: string[] = [];
    const log = runnerLog('runner', (l) => lines.push(l), 'info');
    log.debug('hidden');
    log.info('shown', { n: 1 });
    log.error('failed', { err: new Error('boom') });
    const records = lines.map((l) => JSON.parse(l));
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    expect(records).toMatchObject([
      { level: 'info', component: 'runner', msg: 'shown', n: 1 },
      { level: 'error', msg: 'failed', err: { name: 'Error', message: 'boom' } },
    ]);
  });
});
