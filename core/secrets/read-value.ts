// Getting a secret value from the operator without it ever touching argv, shell history or the screen: from stdin
// when stdin is piped, else from a no-echo prompt on the terminal.
import type { Readable, Writable } from 'node:stream';
import { SecretsError } from './errors.js';
import { MAX_VALUE_BYTES } from './names.js';

/** Strips exactly one trailing newline ("\n" or "\r\n"): `echo value |` and files ending in a newline just work. */
export function stripOneNewline(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

/** Reads a whole piped stream as strict UTF-8 (invalid bytes are refused, not replaced), capped in size. */
export async function readPipedValue(stream: Readable, maxBytes = MAX_VALUE_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), 'utf8');
    size += buf.length;
    // +2 leaves room for the trailing newline that is stripped.
    if (size > maxBytes + 2) throw new SecretsError(`the value on stdin is larger than ${maxBytes} bytes`);
    chunks.push(buf);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new SecretsError('the value on stdin is not valid UTF-8');
  }
  return stripOneNewline(text);
}

export interface LineState {
  value: string;
  done: boolean;
  cancelled: boolean;
}

/** Pure line editing for the hidden prompt: Enter ends, Backspace/Ctrl-U edit, Ctrl-C (or Ctrl-D on empty) cancels. */
export function applyKeys(state: LineState, input: string): LineState {
  let { value } = state;
  for (const ch of input) {
    if (ch === '\r' || ch === '\n') return { value, done: true, cancelled: false };
    if (ch === '\u0003' || (ch === '\u0004' && value.length === 0)) return { value: '', done: true, cancelled: true };
    if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
    else if (ch === '\u0015') value = '';
    else if (ch >= ' ' || ch === '\t') value += ch;
  }
  return { value, done: false, cancelled: false };
}

export interface HiddenInput extends Readable {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

/** Asks for one line on a terminal without echoing it. */
export function promptHidden(question: string, input: HiddenInput, output: Writable): Promise<string> {
  if (typeof input.setRawMode !== 'function') return Promise.reject(new SecretsError('cannot turn off echo on this terminal'));
  return new Promise((resolve, reject) => {
    let state: LineState = { value: '', done: false, cancelled: false };
    const finish = (): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode!(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: Buffer | string): void => {
      state = applyKeys(state, chunk.toString());
      if (!state.done) return;
      finish();
      if (state.cancelled) reject(new SecretsError('cancelled; nothing was stored'));
      else resolve(state.value);
    };
    const onEnd = (): void => {
      finish();
      reject(new SecretsError('input ended before a value was entered; nothing was stored'));
    };
    output.write(question);
    input.setRawMode!(true);
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}
