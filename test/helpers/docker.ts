// Real Docker for tests. Tests that need it FAIL when it is absent (never skip silently): run scripts/ensure-docker.
import Docker from 'dockerode';
import { ensureAgentImage } from '../../images/build.js';

let docker: Docker | undefined;
let image: Promise<{ tag: string; id: string }> | undefined;

/** A connected dockerode client, or an error that says how to get Docker running. */
export async function requireDocker(): Promise<Docker> {
  const client = docker ?? new Docker();
  try {
    await client.ping();
  } catch (error) {
    throw new Error(
      `these tests need a running Docker daemon and none answered (${(error as Error).message}). ` +
        'Run scripts/ensure-docker (as root it installs and starts dockerd), then rerun the tests.',
    );
  }
  docker = client;
  return client;
}

/** The agent image, built (offline route) once per machine when its tag is missing. */
export function agentImage(): Promise<{ tag: string; id: string }> {
  image ??= requireDocker().then((d) => ensureAgentImage({ docker: d }));
  return image;
}

/** Containers carrying a label, running or not (what `docker ps -a --filter label=...` shows). */
export async function containersWithLabel(label: string): Promise<Docker.ContainerInfo[]> {
  return (await requireDocker()).listContainers({ all: true, filters: { label: [label] } });
}
