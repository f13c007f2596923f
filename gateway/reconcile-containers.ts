// After a gateway restart, containers of runs it no longer tracks are orphans: find them by label and remove them.
// Only ever this instance's containers: several warren installations may share one Docker daemon.
import type Docker from 'dockerode';
import type { Logger } from '../core/log.js';
import { LABELS } from '../core/container.js';

export interface RunContainer {
  id: string;
  runId: string;
  tenant: string;
  state: string;
}

export async function listRunContainers(docker: Docker, instance: string): Promise<RunContainer[]> {
  if (instance.length === 0) throw new Error('instance is empty');
  const list = await docker.listContainers({ all: true, filters: { label: [`${LABELS.instance}=${instance}`] } });
  // The filter is the daemon's; check again here so a daemon quirk can never hand us another instance's container.
  return list
    .filter((c) => c.Labels?.[LABELS.instance] === instance)
    .map((c) => ({ id: c.Id, runId: c.Labels[LABELS.run] ?? '', tenant: c.Labels[LABELS.tenant] ?? '', state: c.State }));
}

/** Removes (force) this instance's containers whose run id is not live. Returns the removed container ids. */
export async function removeContainersExcept(
  docker: Docker,
  instance: string,
  liveRunIds: Iterable<string>,
  log?: Logger,
): Promise<string[]> {
  const live = new Set(liveRunIds);
  const removed: string[] = [];
  for (const c of await listRunContainers(docker, instance)) {
    if (live.has(c.runId)) continue;
    try {
      await docker.getContainer(c.id).remove({ force: true });
      removed.push(c.id);
      log?.info({ containerId: c.id.slice(0, 12), runId: c.runId, tenant: c.tenant }, 'removed orphan container');
    } catch (error) {
      const code = (error as { statusCode?: number }).statusCode;
      if (code === 404 || code === 409) removed.push(c.id); // already gone, or AutoRemove is removing it
      else throw error;
    }
  }
  return removed;
}
