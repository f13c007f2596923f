import { describe, it, expect } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { applyKeys, promptHidden, readPipedValue, stripOneNewline, type HiddenInput } from '../../../core/secrets/read-value.js';

describe('stripOneNewline', () => {
  it.each([
    ['value', 'value'],
    ['value\n', 'value'],
    ['value\r\n', 'value'],
    ['value\n\n', 'value\n'],
    ['multi\nline\n', 'multi\nline'],
    ['\n', ''],
  ])('%j -> %j', (input, output) => {
    expect(stripOneNewline(input)).toBe(output);
  });
});

describe('readPipedValue', () => {
  it('reads all chunks and strips one newline', async () => {
    expect(await readPipedValue(Readable.from([Buffer.from('sk-'), Buffer.from('abc\n')]))).toBe('sk-abc');
  });
  it('refuses invalid UTF-8 and oversized input', async () => {
    await expect(readPipedValue(Readable.from([Buffer.from([0x66, 0xff, 0x66])]))).rejects.toThrow(/UTF-8/);
    await expect(readPipedValue(Readable.from([Buffer.alloc(20, 0x61)]), 10)).rejects.toThrow(/larger than 10/);
  });
});

describe('applyKeys', () => {
  const start = { value: '', done: false, cancelled: false };
  it.each([
    ['abc\r', { value: 'abc', done: true, cancelled: false }],
    ['abc', { value: 'abc', done: false, cancelled: false }],
    ['abx\u007fc\n', { value: 'abc', done: true, cancelled: false }],
    ['wrong\u0015right\r', { value: 'right', done: true, cancelled: false }],
    ['abc\u0003', { value: '', done: true, cancelled: true }],
    ['\u0004', { value: '', done: true, cancelled: true }],
    ['a\u0004b\r', { value: 'ab', done: true, cancelled: false }],
    ['é🔑\u007f\r', { value: 'é', done: true, cancelled: false }],
    ['a\u001b[Ab\r', { value: 'a[Ab', done: true, cancelled: false }],
  ])('%j', (keys, expected) => {
    expect(applyKeys(start, keys)).toEqual(expected);
  });
});

function fakeTty(): HiddenInput & PassThrough & { modes: boolean[] } {
  const s = new PassThrough() as unknown as HiddenInput & PassThrough & { modes: boolean[] };
  s.isTTY = true;
  s.modes = [];
  s.setRawMode = (m: boolean) => s.modes.push(m);
  return s;
}

describe('promptHidden', () => {
  it('reads a line in raw mode without echoing it, then restores the terminal', async () => {
    const input = fakeTty();
    const output = new PassThrough();
    const echoed: string[] = [];
    output.on('data', (c) => echoed.push(String(c)));
    const answer = promptHidden('Value: ', input, output);
    input.write('hunter2');
    input.write('\r');
    expect(await answer).toBe('hunter2');
    expect(input.modes).toEqual([true, false]);
    expect(echoed.join('')).toBe('Value: \n');
  });

  it('rejects on Ctrl-C and on end of input', async () => {
    const a = fakeTty();
    const p = promptHidden('? ', a, new PassThrough());
    a.write('abc\u0003');
    await expect(p).rejects.toThrow(/cancelled/);
    const b = fakeTty();
    const q = promptHidden('? ', b, new PassThrough());
    b.end();
    await expect(q).rejects.toThrow(/ended/);
  });
});
