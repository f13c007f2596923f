// Images reach the nodes from the machine's main daemon, as `docker save | docker load` over each node's socket (no
// registry here). One save per image feeds every node that lacks it; a node whose data root already holds the image
// (a restarted node) is skipped.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';

async function hasImage(docker: Docker, id: string): Promise<boolean> {
  try {
    await docker.getImage(id).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Reads a load response to its end; the engine reports a bad archive inside the stream, not as a status code. */
async function finishLoad(response: NodeJS.ReadableStream, ref: string): Promise<void> {
  let text = '';
  for await (const chunk of response) text += chunk.toString();
  const error = text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return (JSON.parse(line) as { error?: string }).error;
      } catch {
        return undefined;
      }
    })
    .find(Boolean);
  if (error) throw new Error(`loading ${ref}: ${error}`);
}

/** Copies each image (by tag or ID) from `main` into every node daemon that does not have it yet. */
export async function loadImages(main: Docker, nodes: ReadonlyArray<{ name: string; docker: Docker }>, refs: readonly string[]): Promise<void> {
  for (const ref of refs) {
    let id: string;
    try {
      id = (await main.getImage(ref).inspect()).Id;
    } catch (error) {
      throw new Error(
        `image ${ref} is not on the main Docker daemon (${(error as Error).message}); build it first ` +
          '(images/build.ts, e.g. agentImage() from test/helpers/docker.ts)',
      );
    }
    const missing = [];
    for (const node of nodes) if (!(await hasImage(node.docker, id))) missing.push(node);
    if (missing.length === 0) continue;
    const archive = (await main.getImage(ref).get()) as NodeJS.ReadableStream;
    await Promise.all(
      missing.map(async (node) => {
        const copy = new PassThrough();
        archive.pipe(copy);
        try {
          await finishLoad(await node.docker.loadImage(copy), ref);
        } catch (error) {
          throw new Error(`could not load ${ref} into node ${node.name}: ${(error as Error).message}`);
        }
      }),
    );
    // `docker save` of a tag carries the tag; by ID it does not, and an untagged image is useless to a service.
    for (const node of missing) if (!(await hasImage(node.docker, ref))) throw new Error(`node ${node.name} lacks ${ref} after loading it`);
  }
}
