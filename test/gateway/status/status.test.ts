// statusReport: what "/status" says about a tenant's work, by table.
import { describe, expect, it } from 'vitest';
import { ANOTHER_CONVERSATION, firstLine, forConversation, formatAge, liveLine, statusReport, TEXT_MAX_WORKERS, type StatusSnapshot } from '../../../gateway/status.js';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const ago = (s: number) => NOW - s * 1000;
const base: StatusSnapshot = { tenant: 'acme', now: NOW, coordinator: null, turns: [], workers: [], waiting: 0 };
const worker = (id: string, state: 'queued' | 'running', ageS: number, brief: string, lastLine: string | null = null, topic = 'main') => ({
  id,
  tenant: 'acme',
  topic,
  brief,
  state,
  createdAt: ago(ageS + 5),
  startedAt: state === 'running' ? ago(ageS) : null,
  container: state === 'running' ? `c-${id}` : null,
  lastLine,
});

describe('formatAge', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [-5000, '0s'],
    [59_999, '59s'],
    [60_000, '1m'],
    [83_000, '1m 23s'],
    [3_600_000, '1h'],
    [3_720_000, '1h 2m'],
    [90_000_000, '1d 1h'],
    [172_800_000, '2d'],
  ];
  for (const [ms, text] of cases) it(`${ms} ms is ${text}`, () => expect(formatAge(ms)).toBe(text));
});

describe('firstLine', () => {
  const cases: [string, string, string][] = [
    ['the first non-empty line', '\n\n  Build the site  \nthen test it', 'Build the site'],
    ['whitespace folded', 'Build\tthe   site', 'Build the site'],
    ['cut with an ellipsis', 'x'.repeat(100), `${'x'.repeat(71)}…`],
    ['nothing at all', '  \n ', ''],
  ];
  for (const [name, text, line] of cases) it(name, () => expect(firstLine(text)).toBe(line));
});

describe('liveLine', () => {
  const cases: [string, { kind: string; text: string | null; data: string | null }, string | null][] = [
    ['a plain log line, as written', { kind: 'log', text: 'npm run build', data: null }, 'npm run build'],
    ["a runner's JSON record: its msg", { kind: 'log', text: '{"level":"info","msg":"script rule matched","rule":1}', data: null }, 'script rule matched'],
    ['JSON without a msg: as written', { kind: 'log', text: '{"a":1}', data: null }, '{"a":1}'],
    ['not JSON after all', { kind: 'log', text: '{oops', data: null }, '{oops'],
    ['an allowed tool call', { kind: 'tool', text: null, data: '{"tool":"spawn_worker","decision":"allow"}' }, 'called spawn_worker'],
    ['a refused tool call', { kind: 'tool', text: null, data: '{"tool":"send_message","decision":"deny"}' }, 'called send_message (deny)'],
    ['a tool chunk without a tool', { kind: 'tool', text: null, data: '{"truncated":true}' }, null],
  ];
  for (const [name, chunk, line] of cases) it(name, () => expect(liveLine(chunk)).toBe(line));
});

describe('statusReport text', () => {
  const cases: [string, Partial<StatusSnapshot>, string][] = [
    ['nothing running', {}, 'acme: nothing running'],
    ['nothing running, messages waiting', { waiting: 2 }, 'acme: nothing running; 2 messages waiting'],
    [
      'a turn of a tenant without a coordinator, with its latest line',
      { turns: [{ run: 'run_1', topic: 'main', startedAt: ago(12), lastLine: 'fetching the order\n' }], waiting: 1 },
      'acme: 1 turn running; 1 message waiting\n- turn main: 12s\n  > fetching the order',
    ],
    [
      'an idle coordinator',
      { coordinator: { state: 'waiting', since: ago(125), busyWith: null } },
      'acme: coordinator idle, waiting for messages for 2m 5s',
    ],
    [
      'a coordinator inside a turn: its turn is said on its own line, not again',
      {
        coordinator: { state: 'busy', since: ago(3), busyWith: 'run_c' },
        turns: [{ run: 'run_c', topic: 'main', startedAt: ago(3), lastLine: 'thinking' }],
        waiting: 1,
      },
      'acme: coordinator in a turn for 3s; 1 message waiting\n  > thinking',
    ],
    [
      'workers: running first (oldest first), then queued, with briefs and latest lines',
      {
        coordinator: { state: 'busy', since: ago(1), busyWith: 'run_c' },
        turns: [{ run: 'run_c', topic: 'main', startedAt: ago(1), lastLine: null }],
        workers: [
          worker('w-q', 'queued', 4, 'Write the docs'),
          worker('w-b', 'running', 30, 'Build the frontend\nwith vite', 'vite: 41 modules transformed'),
          worker('w-a', 'running', 250, 'Build the backend'),
        ],
      },
      [
        'acme: coordinator in a turn for 1s',
        'workers: 2 running, 1 queued',
        '- w-a running 4m 10s: Build the backend',
        '- w-b running 30s: Build the frontend',
        '  > vite: 41 modules transformed',
        '- w-q queued 9s: Write the docs',
      ].join('\n'),
    ],
    [
      'workers of a tenant with no turn running',
      { workers: [worker('w-a', 'running', 61, 'Crunch the numbers')] },
      'acme: 0 turns running\nworkers: 1 running\n- w-a running 1m 1s: Crunch the numbers',
    ],
  ];
  for (const [name, snapshot, text] of cases) {
    it(name, () => expect(statusReport({ ...base, ...snapshot }).text).toBe(text));
  }

  it(`lists at most ${TEXT_MAX_WORKERS} workers and counts the rest`, () => {
    const workers = Array.from({ length: TEXT_MAX_WORKERS + 3 }, (_, i) => worker(`w-${String(i).padStart(2, '0')}`, 'running', 100 - i, `job ${i}`));
    const lines = statusReport({ ...base, workers }).text.split('\n');
    expect(lines.filter((l) => l.startsWith('- w-'))).toHaveLength(TEXT_MAX_WORKERS);
    expect(lines.at(-1)).toBe('… and 3 more');
  });
});

describe('forConversation', () => {
  const snapshot: StatusSnapshot = {
    ...base,
    coordinator: { state: 'busy', since: ago(3), busyWith: 'run_dm' },
    turns: [
      { run: 'run_dm', topic: 'tg-555', startedAt: ago(3), lastLine: 'reading the private order' },
      { run: 'run_mine', topic: 'tg--100', startedAt: ago(9), lastLine: 'ok' },
    ],
    workers: [
      worker('w-dm', 'running', 30, 'Prepare the order report for bob: my address is 1 Elm St', 'address lookup', 'tg-555'),
      worker('w-mine', 'queued', 2, 'Build the group poll', null, 'tg--100'),
    ],
  };
  it("keeps its own conversation's words and hides another's: no topic, brief or output, only counts and ages", () => {
    const seen = forConversation(snapshot, 'tg--100');
    expect(seen.turns).toEqual([
      { run: 'run_dm', topic: ANOTHER_CONVERSATION, startedAt: ago(3), lastLine: null },
      snapshot.turns[1],
    ]);
    expect(seen.workers).toEqual([
      { ...snapshot.workers[0], topic: ANOTHER_CONVERSATION, brief: `for ${ANOTHER_CONVERSATION}`, lastLine: null },
      snapshot.workers[1],
    ]);
    const text = statusReport(seen).text;
    expect(text).not.toMatch(/bob|Elm|private|address|tg-555/);
    expect(text).toBe(
      [
        'acme: coordinator in a turn for 3s',
        '- turn tg--100: 9s',
        '  > ok',
        'workers: 1 running, 1 queued',
        '- w-dm running 30s: for another conversation',
        '- w-mine queued 7s: Build the group poll',
      ].join('\n'),
    );
  });
});

describe('statusReport json', () => {
  it('carries every worker with its age in seconds, its cut brief and its container', () => {
    const { json } = statusReport({
      ...base,
      coordinator: { state: 'busy', since: ago(7), busyWith: 'run_c', container: 'warren-x-run_c' },
      turns: [{ run: 'run_c', topic: 'main', startedAt: ago(7), lastLine: null }],
      workers: [worker('w-q', 'queued', 2, 'Later'), worker('w-a', 'running', 90, `Long brief ${'y'.repeat(100)}\nsecond line`, 'step 3/4')],
      waiting: 3,
    });
    expect(json).toEqual({
      tenant: 'acme',
      at: '2026-12-01T12:00:00.000Z',
      coordinator: { state: 'busy', since: '2026-12-01T11:59:53.000Z', for_s: 7, busy_with: 'run_c', container: 'warren-x-run_c' },
      turns: [{ run: 'run_c', topic: 'main', started_at: '2026-12-01T11:59:53.000Z', for_s: 7, last_line: null }],
      workers: [
        {
          id: 'w-a',
          state: 'running',
          brief: firstLine(`Long brief ${'y'.repeat(100)}`),
          since: '2026-12-01T11:58:30.000Z',
          for_s: 90,
          last_line: 'step 3/4',
          container: 'c-w-a',
        },
        { id: 'w-q', state: 'queued', brief: 'Later', since: '2026-12-01T11:59:53.000Z', for_s: 7, last_line: null, container: null },
      ],
      waiting: 3,
    });
  });
});
