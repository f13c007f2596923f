// Where a run's output enters: runner lines (docker-runner.ts), tool calls (gated's per-run call events, funnelled
// here so run_output has one writer) and status changes (turns.ts). Each piece is scrubbed with the run's redactor
// before the chunk exists, written by the store, then handed to the hub's subscribers. Capture never throws into a
// turn: a chunk that cannot be written is logged and the turn goes on.
import type { Logger } from '../../core/log.js';
import { redactDeep } from '../../core/secrets/redact.js';
import type { ToolCallEvent } from '../../gated/call.js';
import { classifyLine, type Chunk, type ChunkKind } from './chunks.js';
import type { LiveHub } from './hub.js';
import type { RunOutputStore } from './output-store.js';

export class LiveOutput {
  constructor(
    readonly store: RunOutputStore,
    readonly hub: LiveHub,
    private readonly redactorFor: (tenant: string) => ((text: string) => string) | undefined,
    private readonly log: Logger,
  ) {}

  /** A run begins: its output opens with a status chunk. */
  started(run: { id: string; tenant: string; topic: string; attempt: number }): void {
    this.guard(run.id, () => {
      this.store.begin(run.id, run.tenant);
      this.write(run.id, 'status', { data: { state: 'started', topic: run.topic, attempt: run.attempt } });
    });
  }

  /** One line of the container's output (already cut to a line and scrubbed by the runner's reader). */
  line(runId: string, line: string): void {
    this.guard(runId, () => {
      const c = classifyLine(line);
      this.write(runId, c.kind, c.kind === 'log' ? { text: c.text } : { data: c.data });
    });
  }

  /** A tool call of a run, as gated decided it: which tool, the decision and its duration; never argument values. */
  toolCall(call: ToolCallEvent): void {
    if (!call.run) return;
    const run = call.run;
    this.guard(run, () => {
      this.write(run, 'tool', {
        data: { tool: call.tool, decision: call.decision, outcome: call.outcome, rule: call.rule, durationMs: Math.round(call.durationUs / 10) / 100 },
      });
    });
  }

  status(runId: string, data: Record<string, unknown>): void {
    this.guard(runId, () => this.write(runId, 'status', { data }));
  }

  /** The run is over: a last status chunk, then the end of its stream for every subscriber. */
  ended(runId: string, status: string): void {
    this.guard(runId, () => {
      this.write(runId, 'status', { data: { state: 'ended', status } });
      const state = this.store.state(runId);
      if (state && this.store.end(runId, status)) this.hub.publishEnd(runId, status, state.lastSeq);
    });
  }

  private write(runId: string, kind: ChunkKind, content: { text: string } | { data: unknown }): Chunk | null {
    const tenant = this.store.state(runId)?.tenant;
    if (tenant === undefined) return null;
    const redact = this.redactorFor(tenant);
    const clean = !redact ? content : 'text' in content ? { text: redact(content.text) } : { data: redactDeep(content.data, redact) };
    const chunk = this.store.append(runId, kind, clean);
    if (chunk) this.hub.publish(runId, chunk);
    return chunk;
  }

  private guard(runId: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error({ err: error, run: runId }, 'could not record live output');
    }
  }
}
