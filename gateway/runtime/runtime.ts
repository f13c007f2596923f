// The seam between the turn loop and whatever runs agent containers: a turn (or a coordinator, or a worker) is run
// from one validated spec, can be stopped, and what this instance started can be listed and reaped. containerSpec()
// is the one place a spec is validated (limits, mounts, hardening); a runtime only encodes it for its engine.
import type Docker from 'dockerode';
import type { Logger } from '../../core/log.js';
import type { GatedEndpoint } from '../../core/turn.js';
import type { RunOptions, RunResult } from '../docker-runner.js';
import type { RunContainer } from '../reconcile-containers.js';

export type { RunOptions, RunResult, RunContainer };

/** Where a run was placed, for engines with more than one node (`warren runs` shows it). */
export interface Placement {
  node: string;
  task: string;
}

export interface AgentRunOptions extends RunOptions {
  /** Called once the engine has put the run somewhere (never on the local engine, which has one place). */
  onPlaced?: (placement: Placement) => void;
}

/** How one run reaches gated: a unix socket mounted into a local container, or an HTTPS endpoint for a cluster task. */
export interface RunAccess {
  socketPath?: string;
  gated?: GatedEndpoint;
  close(): Promise<void>;
  beginTurn(next: { id: string; topic: string; chat: string | null; depth: number }): void;
}

export interface AgentRuntime {
  /** `docker` (the local daemon) or `swarm`. */
  readonly kind: string;
  /** How its runs reach gated: a unix socket mounted in (the default), or over HTTPS from another node. */
  readonly gatedAccess?: 'socket' | 'https';
  /** Runs one container to completion: the outcome says how it ended; nothing of it is left behind afterwards. */
  run(spec: Docker.ContainerCreateOptions, opts: AgentRunOptions): Promise<RunResult>;
  /** Stops the run whose container has this name (SIGTERM, `graceS`, SIGKILL); gone already is not an error. */
  stop(name: string, graceS: number): Promise<void>;
  /** The runs of this instance the engine still has, whatever their state. */
  list(instance: string): Promise<RunContainer[]>;
  /** Removes this instance's runs whose run id is not in `live`; returns what was removed. */
  removeExcept(instance: string, live: Iterable<string>, log?: Logger): Promise<string[]>;
}
