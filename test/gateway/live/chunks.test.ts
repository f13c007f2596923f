// The pure decisions of live output, by table.
import { describe, expect, it } from 'vitest';
import { classifyLine, clip, gapAfter, outputBounds, pruneCount } from '../../../gateway/live/chunks.js';
import { formatItem, resumeAfter } from '../../../gateway/live/sse.js';

describe('classifyLine', () => {
  it.each([
    ['plain text', { kind: 'log', text: 'plain text' }],
    ['{"level":"info","msg":"starting claude"}', { kind: 'log', text: '{"level":"info","msg":"starting claude"}' }],
    ['{"level":"info","event":{"type":"content_block_delta"}}', { kind: 'event', data: { level: 'info', event: { type: 'content_block_delta' } } }],
    ['{"event" broken', { kind: 'log', text: '{"event" broken' }],
    ['["event"]', { kind: 'log', text: '["event"]' }],
    ['{"msg":"the word \\"event\\" in a message"}', { kind: 'log', text: '{"msg":"the word \\"event\\" in a message"}' }],
  ])('%s', (line, expected) => {
    expect(classifyLine(line)).toEqual(expected);
  });
});

describe('gapAfter', () => {
  it.each([
    [0, 0, null],
    [5, 3, null],
    [3, 3, null],
    [0, 3, { from: 1, to: 3 }],
    [2, 7, { from: 3, to: 7 }],
  ])('after %i with 1..%i pruned', (after, prunedTo, expected) => {
    expect(gapAfter(after, prunedTo)).toEqual(expected);
  });
});

describe('pruneCount', () => {
  const bounds = { maxChunks: 3, maxBytes: 100 };
  it.each([
    ['within both bounds', 3, 30, [10, 10, 10], 0],
    ['one chunk over', 4, 40, [10, 10, 10, 10], 1],
    ['bytes over: oldest go until under', 3, 150, [60, 60, 30], 1],
    ['bytes over by a lot', 3, 300, [100, 100, 100], 2],
    ['the newest chunk always stays', 1, 500, [500], 0],
    ['never more than it was shown', 10, 100, [10, 10], 2],
  ])('%s', (_what, chunks, bytes, oldest, expected) => {
    expect(pruneCount(chunks, bytes, oldest, bounds)).toBe(expected);
  });
});

describe('clip', () => {
  it('keeps short text and cuts long text on a character boundary', () => {
    expect(clip('short', 100)).toBe('short');
    const cut = clip('é'.repeat(100), 51);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(51);
    expect(cut).toMatch(/^é+…$/);
  });
});

describe('resumeAfter', () => {
  it.each([
    [undefined, undefined, { after: 0 }],
    [undefined, '12', { after: 12 }],
    ['40', '12', { after: 40 }],
    ['abc', undefined, { error: 'Last-Event-ID must be a chunk seq (a whole number >= 0), got "abc"' }],
    [undefined, '-1', { error: 'after must be a chunk seq (a whole number >= 0), got "-1"' }],
    [undefined, '1e3', { error: 'after must be a chunk seq (a whole number >= 0), got "1e3"' }],
  ])('Last-Event-ID %s, after %s', (id, after, expected) => {
    expect(resumeAfter(id, after)).toEqual(expected);
  });
});

describe('formatItem', () => {
  it('writes id per chunk, gap and end events', () => {
    expect(formatItem({ type: 'chunk', chunk: { seq: 7, time: 't', kind: 'log', text: 'a\nb' } })).toBe(
      'id: 7\ndata: {"seq":7,"time":"t","kind":"log","text":"a\\nb"}\n\n',
    );
    expect(formatItem({ type: 'gap', gap: { from: 1, to: 4 } })).toBe('id: 4\nevent: gap\ndata: {"from":1,"to":4}\n\n');
    expect(formatItem({ type: 'end', status: 'done', lastSeq: 9 })).toBe('event: end\ndata: {"status":"done","lastSeq":9}\n\n');
  });
});

describe('outputBounds', () => {
  it('reads the settings and refuses nonsense', () => {
    expect(outputBounds({ WARREN_OUTPUT_MAX_CHUNKS: '50', WARREN_OUTPUT_RETENTION_HOURS: '2' })).toMatchObject({ maxChunks: 50, retentionMs: 7_200_000 });
    expect(() => outputBounds({ WARREN_OUTPUT_MAX_BYTES: '10' })).toThrow('WARREN_OUTPUT_MAX_BYTES must be a whole number >= 1024, got "10"');
  });
});
