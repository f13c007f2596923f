// Reading the turn: the whole of stdin, one JSON TurnInput, validated against the shared contract in core/turn.ts.
// Pure parsing is separate from the stdin read so that the error messages can be table-tested.
import { readFileSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { TurnInputSchema, type TurnInput } from '../../../core/turn.js';
import { describeIssues } from './issues.js';

/** Generous: a turn carries messages of at most 64 KiB each, a script and env; anything bigger is a bug upstream. */
export const MAX_TURN_BYTES = 16 * 1024 * 1024;

export type ParsedTurn = { ok: true; turn: TurnInput } | { ok: false; error: string };

export function parseTurn(text: string): ParsedTurn {
  if (text.trim() === '') return { ok: false, error: 'no turn on stdin: expected one JSON TurnInput object' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `the turn on stdin is not valid JSON: ${jsonProblem(error)}` };
  }
  const parsed = TurnInputSchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: `the turn on stdin is not a valid TurnInput: ${describeIssues(parsed.error.issues, 'turn')}` };
  return { ok: true, turn: parsed.data };
}

export function readAll(stream: Readable, maxBytes = MAX_TURN_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stream.destroy();
        reject(new Error(`the turn on stdin exceeds ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** V8 quotes a piece of the input in some JSON errors; the input may carry secrets, so that piece is cut. */
export function jsonProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/,?\s*".*" is not valid JSON$/s, '');
}

/**
 * The turn's text: from the file WARREN_TURN_FILE names (a Swarm run's per-run secret), else all of stdin. A turn
 * from a file is refused unless the process runs with no_new_privs: Swarm on Docker 20.10 cannot ask for it per
 * service, so every node's daemon must set it (docs/scale-out.md), and a node that does not fails the run here.
 */
export async function readTurnText(
  env: NodeJS.ProcessEnv,
  stdin: Readable,
  procStatus: () => string = () => readFileSync('/proc/self/status', 'utf8'),
): Promise<string> {
  const file = env.WARREN_TURN_FILE;
  if (!file) return readAll(stdin);
  if (!/^NoNewPrivs:\s*1$/m.test(procStatus())) {
    throw new Error('a turn from a file needs no-new-privileges, and this container runs without: set "no-new-privileges": true in the daemon.json of every node');
  }
  if (statSync(file).size > MAX_TURN_BYTES) throw new Error(`the turn file exceeds ${MAX_TURN_BYTES} bytes`);
  return readFileSync(file, 'utf8');
}
