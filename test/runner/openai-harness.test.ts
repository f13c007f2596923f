// The openai harness's pure parts, by table: configuration problems, failure lines, the proxy choice, the kept
// conversation.
import { describe, expect, it } from 'vitest';
import { trimConversation, type ChatMessage } from '../../images/agent/runner/openai/conversation.js';
import { completionsUrl, describeFailure, endpointProblem } from '../../images/agent/runner/openai/harness.js';
import { proxyFor } from '../../images/agent/runner/openai/http.js';

describe('endpointProblem', () => {
  it.each([
    ['all set', 'm', { OPENAI_BASE_URL: 'http://llm:8000/v1' }, null],
    ['no model', null, { OPENAI_BASE_URL: 'http://llm:8000/v1' }, /set `model:`/],
    ['no endpoint', 'm', {}, /set OPENAI_BASE_URL under `environment:`/],
    ['not a URL', 'm', { OPENAI_BASE_URL: 'llm:8000' }, /must be http\(s\), not llm:/],
    ['garbage', 'm', { OPENAI_BASE_URL: '::' }, /is not a URL/],
    ['a bad timeout', 'm', { OPENAI_BASE_URL: 'http://llm/v1', OPENAI_TIMEOUT_S: 'soon' }, /OPENAI_TIMEOUT_S must be a positive number/],
  ])('%s', (_label, model, env, expected) => {
    const problem = endpointProblem({ model }, env);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it('appends /chat/completions to the base, with or without a trailing slash', () => {
    expect(completionsUrl('http://llm:8000/v1').href).toBe('http://llm:8000/v1/chat/completions');
    expect(completionsUrl('http://llm:8000/v1/').href).toBe('http://llm:8000/v1/chat/completions');
  });
});

describe('describeFailure', () => {
  it.each([
    [429, { 'retry-after': '7' }, '{"error":{"message":"slow down"}}', 'the model endpoint is rate limiting (429); retry after 7 s: {"error":{"message":"slow down"}}'],
    [503, {}, '', 'the model endpoint failed (503)'],
    [401, {}, 'bad key\n', 'the model endpoint refused the request (401): bad key'],
  ])('%s', (status, headers, body, expected) => {
    expect(describeFailure(status, headers, body)).toBe(expected);
  });
});

describe('proxyFor', () => {
  const env = { HTTP_PROXY: 'http://10.0.0.1:3128', HTTPS_PROXY: 'http://10.0.0.1:3129', NO_PROXY: 'localhost,intra.example' };
  it.each([
    ['http uses HTTP_PROXY', 'http://llm.example/v1', env, 'http://10.0.0.1:3128/'],
    ['https uses HTTPS_PROXY', 'https://llm.example/v1', env, 'http://10.0.0.1:3129/'],
    ['a NO_PROXY host goes direct', 'http://intra.example/v1', env, null],
    ['no proxy set: direct', 'http://llm.example/v1', {}, null],
  ])('%s', (_label, url, e, expected) => {
    expect(proxyFor(new URL(url), e)?.href ?? null).toBe(expected);
  });
});

describe('trimConversation', () => {
  const user = (n: number): ChatMessage => ({ role: 'user', content: `u${n}` });
  const call = (n: number): ChatMessage => ({ role: 'assistant', content: null, tool_calls: [{ id: `c${n}`, type: 'function', function: { name: 'whoami', arguments: '{}' } }] });
  const result = (n: number): ChatMessage => ({ role: 'tool', tool_call_id: `c${n}`, content: 'r' });
  const answer = (n: number): ChatMessage => ({ role: 'assistant', content: `a${n}` });
  const history = [user(1), call(1), result(1), answer(1), user(2), call(2), result(2), answer(2)];

  it.each([
    ['fits: unchanged', 8, history],
    ['cut at the next user message, never inside a tool round', 6, history.slice(4)],
    ['cut exactly at a user message', 4, history.slice(4)],
    ['nothing fits whole', 2, []],
  ])('%s', (_label, max, expected) => {
    expect(trimConversation(history, max)).toEqual(expected);
  });
});
