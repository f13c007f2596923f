// A coordinator: one long-lived container for an `always_on: true` tenant. Its turns are ordinary runs (claimed,
// committed and re-queued by RunStore like any other), handed to the runner one at a time over `warren/next_turn`
// on a run socket that lasts as long as the container. The decisions are gateway/coordinator-plan.ts; this is the I/O.
import type { Logger } from '../core/log.js';
import type { NextTurnResult, TurnInput, TurnResult } from '../core/turn.js';
import { decideCoordinator, type CoordinatorEvent, type CoordinatorState } from './coordinator-plan.js';
import type { RunResult } from './docker-runner.js';
import type { ResolvedLimits } from './limits.js';
import type { LiveOutput } from './live/capture.js';
import type { RunStore, StartedRun } from './run-store.js';
import type { CoordinatorView } from './status.js';
import { planEffects, turnOutcome } from './turn-plan.js';

/** Test hooks: force the timing of races the issue names. */
export interface CoordinatorHooks {
  /** Called as the idle timer fires, just before the queue is read for the stop decision. */
  beforeIdleDecision?: (tenant: string) => void;
}

export interface CoordinatorDeps {
  runs: RunStore;
  log: Logger;
  limits: ResolvedLimits;
  idleTimeoutS: number;
  /** The turn input for a claimed run (secrets, session, script). */
  turnInput: (run: StartedRun) => TurnInput;
  /** Moves the run socket to the next turn. */
  beginTurn: (run: StartedRun) => void;
  /** Stops the container (a turn past its time limit). */
  kill: () => Promise<void>;
  redact?: (text: string) => string;
  output?: LiveOutput;
  hooks?: CoordinatorHooks;
  onTurnEnd?: (run: StartedRun, outcome: ReturnType<typeof turnOutcome>) => void;
}

export class Coordinator {
  private stateValue: CoordinatorState = 'starting';
  /** When it entered its state: what /status says ("in a turn for 12s"). */
  private stateSince = Date.now();
  /** The turn the container is inside, until it is committed. */
  private current: StartedRun | null;
  private submitted: TurnResult | null = null;
  private waiter: ((answer: NextTurnResult) => void) | null = null;
  private idleTimer: NodeJS.Timeout | undefined;
  private turnTimer: NodeJS.Timeout | undefined;
  private turnTimedOut = false;
  /** The turns this container has taken (the first included); they are marked with its id once it is gone. */
  readonly turns: string[] = [];
  /** Its container's name, once the container is created (what `warren workers` shows). */
  container: string | null = null;

  constructor(
    readonly tenant: string,
    first: StartedRun,
    private readonly deps: CoordinatorDeps,
  ) {
    this.current = first;
    this.began(first);
  }

  get busyWith(): string | null {
    return this.current?.id ?? null;
  }

  private get state(): CoordinatorState {
    return this.stateValue;
  }

  private set state(next: CoordinatorState) {
    if (next !== this.stateValue) this.stateSince = Date.now();
    this.stateValue = next;
  }

  /** What /status shows of it (gateway/status.ts); null once its container is gone. */
  view(): CoordinatorView | null {
    if (this.state === 'absent') return null;
    return { state: this.state, since: this.stateSince, busyWith: this.busyWith, container: this.container };
  }

  /** The runner's `warren/submit_turn`: the current turn is committed at once (the container stays). */
  submit(result: TurnResult): void {
    if (!this.current || this.submitted) return; // the first report of a turn counts
    this.submitted = result;
    this.commit(null);
  }

  /** The runner's `warren/next_turn`: answered now, or held until a message or the idle timer. */
  nextTurn(): Promise<NextTurnResult> {
    // One runner asks at a time; a second request (anything else in the container on the socket) is refused.
    if (this.waiter) return Promise.reject(new Error('a warren/next_turn request is already waiting'));
    if (this.current) this.commit(null); // asked without a report: the turn ended without one
    const answer = this.apply({ type: 'boundary', pending: this.pending() });
    if (answer) return Promise.resolve(answer);
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.armIdle();
    });
  }

  /** A message was queued for the tenant. */
  poke(): void {
    this.answer(this.apply({ type: 'message', pending: this.pending() }));
  }

  /** Whether it has been told to stop and its container is on the way out. */
  get stopping(): boolean {
    return this.state === 'stopping';
  }

  /**
   * Every container slot is taken and another turn waits for one: an idle coordinator gives its slot up, decided as
   * its idle timeout would be (a message queued for it wins). Returns whether it is stopping now.
   */
  yieldSlot(): boolean {
    if (this.state !== 'waiting') return false;
    this.answer(this.apply({ type: 'idle', pending: this.pending() }));
    return this.stopping;
  }

  /** The gateway is stopping: the runner is told to stop at its next boundary (or now, if it waits). */
  shutdown(): void {
    if (this.state === 'waiting') this.answer({ stop: true });
    this.state = 'stopping';
  }

  /** The container is gone; an unfinished turn is re-queued once (failed the second time). Returns what was done. */
  exited(exit: RunResult | null, startError: string | null): 'requeue' | 'fail' | null {
    clearTimeout(this.idleTimer);
    this.answer({ stop: true });
    if (exit) for (const id of this.turns) this.deps.runs.setContainer(id, exit.containerId);
    const run = this.current;
    if (run && (this.submitted || startError)) {
      this.commit(exit, startError);
      return null;
    }
    const decision = decideCoordinator(this.state, { type: 'exited', unfinished: run ? { attempt: run.attempt } : null, pending: false });
    this.state = 'absent';
    if (!run || !decision.unfinished) return null;
    clearTimeout(this.turnTimer);
    if (decision.unfinished === 'requeue') {
      this.current = null;
      this.deps.runs.requeue([run.id], 'the coordinator died mid-turn; queued again');
      this.deps.output?.ended(run.id, 'interrupted');
      this.deps.log.warn({ run: run.id, exit }, 'coordinator died mid-turn: the turn is queued again');
    } else {
      this.submitted = null;
      this.commit(exit, null);
      this.deps.log.error({ run: run.id, exit }, 'coordinator died twice in the same turn: failed');
    }
    return decision.unfinished;
  }

  private apply(event: CoordinatorEvent): NextTurnResult | null {
    const decision = decideCoordinator(this.state, event);
    this.state = decision.next;
    if (decision.action === 'stop') return { stop: true };
    if (decision.action !== 'hand-turn') return null;
    const run = this.claim();
    if (!run) {
      // The queue emptied in between (a paused group): back to waiting.
      this.state = 'waiting';
      return null;
    }
    this.current = run;
    this.began(run);
    this.deps.beginTurn(run);
    return { turn: this.deps.turnInput(run) };
  }

  /** Resolves the held `warren/next_turn`, if one is held and there is an answer. */
  private answer(answer: NextTurnResult | null): void {
    if (!answer || !this.waiter) return;
    clearTimeout(this.idleTimer);
    const waiter = this.waiter;
    this.waiter = null;
    waiter(answer);
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.deps.hooks?.beforeIdleDecision?.(this.tenant);
      // Read in the same synchronous step as the decision: nothing can be queued in between.
      const answer = this.apply({ type: 'idle', pending: this.pending() });
      if (answer) this.answer(answer);
      else if (this.waiter) this.armIdle(); // the queue emptied before the claim: idle again from now
    }, this.deps.idleTimeoutS * 1000);
    this.idleTimer.unref();
  }

  private pending(): boolean {
    return this.deps.runs.pendingTopicsOf(this.tenant).length > 0;
  }

  private claim(): StartedRun | null {
    for (const topic of this.deps.runs.pendingTopicsOf(this.tenant)) {
      // The container already holds its slot (counted by the turn loop); the turn's lease is the topic's lock.
      const run = this.deps.runs.tryStart(this.tenant, topic, Number.MAX_SAFE_INTEGER);
      if (run) return run;
    }
    return null;
  }

  private began(run: StartedRun): void {
    this.turns.push(run.id);
    this.submitted = null;
    this.turnTimedOut = false;
    this.deps.output?.started(run);
    clearTimeout(this.turnTimer);
    // Each turn keeps the tenant's time limit; past it the container is stopped (and the turn reported as timed out).
    this.turnTimer = setTimeout(() => {
      if (this.current?.id !== run.id) return;
      this.turnTimedOut = true;
      this.deps.log.warn({ run: run.id, timeout_s: this.deps.limits.timeout_s }, 'coordinator turn timed out; stopping it');
      // Committed now, as out of time: whatever the runner still reports for it comes too late to count.
      this.submitted = null;
      this.commit(null);
      this.state = 'stopping'; // a container on its way out is handed no further turn
      void this.deps.kill().catch((error: unknown) => this.deps.log.error({ err: error }, 'could not stop the coordinator'));
    }, this.deps.limits.timeout_s * 1000);
    this.turnTimer.unref();
  }

  private commit(exit: RunResult | null, startError: string | null = null): void {
    const run = this.current;
    if (!run) return;
    clearTimeout(this.turnTimer);
    const { runs, redact } = this.deps;
    const end = this.turnTimedOut && !this.submitted ? { exitCode: 137, timedOut: true, oomKilled: false } : exit;
    let outcome = turnOutcome({ submitted: this.submitted, exit: end, startError, limits: this.deps.limits });
    if (redact) outcome = { ...outcome, text: redact(outcome.text) };
    const effects = planEffects(run.tenant, run.messages, runs.delegationsFor(run.messages), outcome, runs.chatsSentBy(run.id));
    runs.finish(run, outcome, effects);
    this.current = null;
    this.deps.output?.status(run.id, { state: 'committed', status: outcome.status });
    this.deps.output?.ended(run.id, outcome.status);
    this.deps.log.info({ run: run.id, status: outcome.status }, 'coordinator turn finished');
    this.deps.onTurnEnd?.(run, outcome);
  }
}
