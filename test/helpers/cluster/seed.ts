// A per-process image seed, so a second cluster in the same test process starts without loading its images again
// (loading is the slow part of a start: ~1 s per 100 MB per node). After the first load, the manager's image store
// (data root's image/ and overlay2/, holding nothing but image layers at that point) is copied as hard links into a
// seed folder; later nodes get their data root planted from it, the same way, before their dockerd starts.
// Hard links are safe here: image layers are never written in place (overlayfs writes to a container's upper layer,
// Docker replaces its metadata files by rename), so no node can change another's files.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './host.js';

const STORE = ['image', 'overlay2'];

export interface Seed {
  /** The seed's own run folder (owned by this process: swept like a run if the process is killed). */
  dir: string;
  /** Image IDs (and the tags they were loaded under) the seed holds. */
  images: Set<string>;
}

export function seedHolds(seed: Seed | undefined, refs: readonly string[]): boolean {
  return seed !== undefined && refs.every((ref) => seed.images.has(ref));
}

/** Copies (hard links) the image store of a quiescent data root into the seed, replacing what it held. */
export function captureSeed(dir: string, dataRoot: string, refs: readonly string[]): Seed {
  const fresh = join(dir, 'store.new');
  const store = join(dir, 'store');
  run('rm', ['-rf', fresh]);
  mkdirSync(fresh, { recursive: true });
  for (const part of STORE) run('cp', ['-al', join(dataRoot, part), join(fresh, part)]);
  run('rm', ['-rf', store]);
  renameSync(fresh, store);
  return { dir, images: new Set(refs) };
}

/** Plants the seed's image store into a data root that has not been used yet. */
export function plantSeed(seed: Seed, dataRoot: string): void {
  mkdirSync(dataRoot, { recursive: true });
  for (const part of STORE) {
    const from = join(seed.dir, 'store', part);
    if (existsSync(from) && !existsSync(join(dataRoot, part))) run('cp', ['-al', from, join(dataRoot, part)]);
  }
}
