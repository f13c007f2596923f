// What "/status" says about one tenant's work, decided without any model: its coordinator (if it runs as one), its
// running turns and its workers, each with what it is doing and for how long. PURE: the snapshot is gathered by
// gateway/read/status.ts (the database) and the turn loop (the live coordinator); this only words it, as short plain
// text a person reads on a phone and as JSON for the API and `warren workers --json`.
import type { WorkerRow } from '../gated/store.js';
import type { CoordinatorState } from './coordinator-plan.js';

/** What status reads of a worker (GatedStore.listWorkers' row). */
export type StatusWorkerRow = Pick<WorkerRow, 'id' | 'tenant' | 'topic' | 'brief' | 'state' | 'createdAt' | 'startedAt' | 'container'>;

/** The live coordinator of a tenant, as the turn loop knows it; null when none runs. */
export interface CoordinatorView {
  state: Exclude<CoordinatorState, 'absent'>;
  /** When it entered that state (ms since epoch). */
  since: number;
  /** The turn (run id) it is inside, if any. */
  busyWith: string | null;
  /** Its container's name, once created. */
  container?: string | null;
}

export interface StatusSnapshot {
  tenant: string;
  /** ms since epoch */
  now: number;
  coordinator: CoordinatorView | null;
  /** Turns of the tenant running now (a coordinator's current turn among them). */
  turns: { run: string; topic: string; startedAt: number; lastLine: string | null }[];
  /** Its workers that are queued or running (others are left out by the reader). */
  workers: (StatusWorkerRow & { lastLine: string | null })[];
  /** Messages stored for the tenant that no turn has taken yet. */
  waiting: number;
}

export interface StatusJson {
  tenant: string;
  at: string;
  coordinator: { state: string; since: string; for_s: number; busy_with: string | null; container: string | null } | null;
  turns: { run: string; topic: string; started_at: string; for_s: number; last_line: string | null }[];
  workers: {
    id: string;
    state: string;
    brief: string;
    since: string;
    for_s: number;
    last_line: string | null;
    container: string | null;
  }[];
  waiting: number;
}

/** At most this many workers are listed in the text; the rest are counted. */
export const TEXT_MAX_WORKERS = 8;
/** A brief's first line or an output line is cut to this many characters (a phone's line, roughly). */
export const LINE_MAX = 72;

/** `83_000` -> `1m 23s`; two units at most, the largest first. PURE. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** A brief's first non-empty line, or an output line: whitespace folded, cut with "…" past `max`. PURE. */
export function firstLine(text: string, max = LINE_MAX): string {
  const line = text.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).find((l) => l.length > 0) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * A run's latest live-output chunk as one readable line: a runner's JSON log record says its `msg`, a tool call its
 * tool (and a refusal); anything else is kept as written. PURE.
 */
export function liveLine(chunk: { kind: string; text: string | null; data: string | null }): string | null {
  if (chunk.kind === 'tool' && chunk.data !== null) {
    const call = parseRecord(chunk.data);
    if (typeof call?.tool !== 'string') return null;
    return call.decision === 'allow' || call.decision === undefined ? `called ${call.tool}` : `called ${call.tool} (${String(call.decision)})`;
  }
  if (chunk.text === null) return null;
  const record = chunk.text.startsWith('{') ? parseRecord(chunk.text) : null;
  return typeof record?.msg === 'string' ? record.msg : chunk.text;
}

function parseRecord(text: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Running first, then queued; oldest first within each. */
function ordered(workers: StatusSnapshot['workers']): StatusSnapshot['workers'] {
  const since = (w: StatusWorkerRow) => w.startedAt ?? w.createdAt;
  const rank = (w: StatusWorkerRow) => (w.state === 'running' ? 0 : 1);
  return [...workers].sort((a, b) => rank(a) - rank(b) || since(a) - since(b) || a.id.localeCompare(b.id));
}

const COORDINATOR_WORDS: Record<CoordinatorView['state'], string> = {
  starting: 'starting',
  busy: 'in a turn',
  waiting: 'idle, waiting for messages',
  stopping: 'stopping',
};

/** What stands for another conversation's turn or worker in a conversation-scoped status. */
export const ANOTHER_CONVERSATION = 'another conversation';

/**
 * The snapshot as one conversation of the tenant may see it: its own turns and workers in full; another
 * conversation's only as counted and timed, without topic, brief or output (a tenant wired to several chats must not
 * show one chat's words in another). PURE.
 */
export function forConversation(s: StatusSnapshot, topic: string): StatusSnapshot {
  return {
    ...s,
    turns: s.turns.map((t) => (t.topic === topic ? t : { ...t, topic: ANOTHER_CONVERSATION, lastLine: null })),
    workers: s.workers.map((w) => (w.topic === topic ? w : { ...w, topic: ANOTHER_CONVERSATION, brief: `for ${ANOTHER_CONVERSATION}`, lastLine: null })),
  };
}

/** The /status text and its JSON twin for one tenant. PURE. */
export function statusReport(s: StatusSnapshot): { text: string; json: StatusJson } {
  const iso = (ms: number) => new Date(ms).toISOString();
  const age = (ms: number) => Math.max(0, Math.floor((s.now - ms) / 1000));
  const workers = ordered(s.workers);
  const json: StatusJson = {
    tenant: s.tenant,
    at: iso(s.now),
    coordinator: s.coordinator
      ? {
          state: s.coordinator.state,
          since: iso(s.coordinator.since),
          for_s: age(s.coordinator.since),
          busy_with: s.coordinator.busyWith,
          container: s.coordinator.container ?? null,
        }
      : null,
    turns: s.turns.map((t) => ({ run: t.run, topic: t.topic, started_at: iso(t.startedAt), for_s: age(t.startedAt), last_line: t.lastLine })),
    workers: workers.map((w) => {
      const since = w.startedAt ?? w.createdAt;
      return {
        id: w.id,
        state: w.state,
        brief: firstLine(w.brief),
        since: iso(since),
        for_s: age(since),
        last_line: w.lastLine === null ? null : firstLine(w.lastLine),
        container: w.container,
      };
    }),
    waiting: s.waiting,
  };

  const lines: string[] = [];
  const waiting = s.waiting > 0 ? `; ${plural(s.waiting, 'message')} waiting` : '';
  const c = s.coordinator;
  // A coordinator's own turn is said on its line; other turns (a tenant without a coordinator) get one line each.
  const turns = s.turns.filter((t) => t.run !== c?.busyWith);
  if (c) {
    lines.push(`${s.tenant}: coordinator ${COORDINATOR_WORDS[c.state]} for ${formatAge(s.now - c.since)}${waiting}`);
    const current = s.turns.find((t) => t.run === c.busyWith);
    if (current?.lastLine) lines.push(`  > ${firstLine(current.lastLine)}`);
  } else if (turns.length === 0 && workers.length === 0) {
    lines.push(`${s.tenant}: nothing running${waiting}`);
  } else {
    lines.push(`${s.tenant}: ${plural(turns.length, 'turn')} running${waiting}`);
  }
  for (const t of turns) {
    lines.push(`- turn ${t.topic}: ${formatAge(s.now - t.startedAt)}`);
    if (t.lastLine) lines.push(`  > ${firstLine(t.lastLine)}`);
  }
  if (workers.length > 0) {
    const running = workers.filter((w) => w.state === 'running').length;
    const queued = workers.length - running;
    lines.push(`workers: ${running} running${queued > 0 ? `, ${queued} queued` : ''}`);
    for (const [i, w] of workers.entries()) {
      if (i === TEXT_MAX_WORKERS) {
        lines.push(`… and ${workers.length - TEXT_MAX_WORKERS} more`);
        break;
      }
      const since = w.startedAt ?? w.createdAt;
      lines.push(`- ${w.id} ${w.state} ${formatAge(s.now - since)}: ${firstLine(w.brief)}`);
      if (w.lastLine) lines.push(`  > ${firstLine(w.lastLine)}`);
    }
  }
  return { text: lines.join('\n'), json };
}
