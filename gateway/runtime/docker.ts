// The local engine: one Docker daemon, a container per run (gateway/docker-runner.ts does the work).
import type Docker from 'dockerode';
import type { Logger } from '../../core/log.js';
import { runContainer } from '../docker-runner.js';
import { listRunContainers, removeContainersExcept } from '../reconcile-containers.js';
import type { AgentRunOptions, AgentRuntime } from './runtime.js';

export class DockerRuntime implements AgentRuntime {
  readonly kind = 'docker';

  constructor(readonly docker: Docker) {}

  run(spec: Docker.ContainerCreateOptions, opts: AgentRunOptions) {
    return runContainer(this.docker, spec, opts);
  }

  async stop(name: string, graceS: number): Promise<void> {
    try {
      await this.docker.getContainer(name).stop({ t: graceS });
    } catch (error) {
      // 304 already stopped, 404 already removed: nothing left to stop.
      const code = (error as { statusCode?: number }).statusCode;
      if (code !== 304 && code !== 404) throw error;
    }
  }

  list(instance: string) {
    return listRunContainers(this.docker, instance);
  }

  removeExcept(instance: string, live: Iterable<string>, log?: Logger) {
    return removeContainersExcept(this.docker, instance, live, log);
  }
}
