// One-shot Swarm jobs for tests: create a replicated-job service, wait for its task to finish, read its logs from the
// manager. The events API has no task events, so task state is polled (listTasks).
import type Docker from 'dockerode';
import { waitFor } from './host.js';

export interface JobSpec {
  name: string;
  image: string;
  /** Replaces the image's entrypoint (Swarm's ContainerSpec.Command). */
  command: string[];
  /** Placement constraints, e.g. [`node.hostname==${node.hostname}`] or ['node.labels.gpu==true']. */
  constraints?: string[];
  /** Network names or IDs to attach the task to. */
  networks?: string[];
  env?: string[];
  labels?: Record<string, string>;
}

export interface JobResult {
  serviceId: string;
  taskId: string;
  /** The node the task ran on. */
  nodeId: string;
  state: string;
  exitCode: number | null;
  /** stdout and stderr of the task, as the manager serves them (`docker service logs`). */
  logs: string;
}

/** The fields of a Swarm task the harness reads (GET /tasks). */
export interface SwarmTask {
  ID: string;
  NodeID?: string;
  Status?: { State?: string; Err?: string; ContainerStatus?: { ExitCode?: number } };
}

const FINAL_STATES = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned', 'remove']);

/** Service spec of a one-shot job (one task, never restarted). */
export function jobServiceSpec(spec: JobSpec): Record<string, unknown> {
  return {
    Name: spec.name,
    Labels: spec.labels ?? {},
    TaskTemplate: {
      ContainerSpec: { Image: spec.image, Command: spec.command, Env: spec.env ?? [] },
      Placement: { Constraints: spec.constraints ?? [] },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Networks: (spec.networks ?? []).map((Target) => ({ Target })),
    },
    Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    // DNS round robin: a VIP needs IPVS in the kernel, which not every machine running these tests has.
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) into text. */
export function demuxLogs(raw: Buffer): string {
  let out = '';
  let at = 0;
  while (at + 8 <= raw.length) {
    const size = raw.readUInt32BE(at + 4);
    out += raw.subarray(at + 8, at + 8 + size).toString('utf8');
    at += 8 + size;
  }
  return out;
}

export async function serviceLogs(manager: Docker, serviceId: string): Promise<string> {
  const raw = (await manager.getService(serviceId).logs({ stdout: true, stderr: true, follow: false })) as unknown;
  return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
}

/** The service's task once it reached a final state. */
export async function waitForTask(manager: Docker, serviceId: string, timeoutMs: number): Promise<SwarmTask> {
  let last = 'no task yet';
  return waitFor(
    async () => {
      const tasks = (await manager.listTasks({ filters: { service: [serviceId] } })) as SwarmTask[];
      const task = tasks[0];
      if (!task) return undefined;
      last = `${task.Status?.State}${task.Status?.Err ? ` (${task.Status.Err})` : ''}`;
      return FINAL_STATES.has(task.Status?.State ?? '') ? task : undefined;
    },
    timeoutMs,
    () => `the task of service ${serviceId} did not finish within ${timeoutMs / 1000} s (last: ${last})`,
  );
}

/** Runs a job to completion and returns where it ran, how it ended and what it printed. The service stays (remove it
 * with manager.getService(id).remove() when the test is done with it). */
export async function runJob(manager: Docker, spec: JobSpec, timeoutMs = 60_000): Promise<JobResult> {
  const { id: serviceId } = (await manager.createService(jobServiceSpec(spec) as Docker.CreateServiceOptions)) as { id: string };
  const task = await waitForTask(manager, serviceId, timeoutMs);
  // Logs of a finished task come from its node through the dispatcher; they may lag the state by a moment.
  const logs = await waitFor(
    async () => {
      const text = await serviceLogs(manager, serviceId);
      return text.length > 0 || task.Status?.State !== 'complete' ? text : undefined;
    },
    10_000,
    () => `no logs for service ${serviceId}`,
  ).catch(() => '');
  return {
    serviceId,
    taskId: task.ID,
    nodeId: task.NodeID ?? '',
    state: task.Status?.State ?? 'unknown',
    exitCode: task.Status?.ContainerStatus?.ExitCode ?? null,
    logs,
  };
}
