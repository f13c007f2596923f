// A real gated on a temp tenant tree for the duration of a describe block.
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { Gated, type GatedOptions } from '../../gated/broker.js';
import { standardTree, type TempTree } from './tree.js';

export interface GatedFixture {
  readonly tree: TempTree;
  readonly gated: Gated;
}

/** Starts gated (no watcher unless asked) before the block's tests and stops it, and removes the tree, after them. */
export function useGated(
  options: { tree?: () => TempTree; gated?: Partial<GatedOptions>; before?: (tree: TempTree) => void } = {},
): GatedFixture {
  const fixture = {} as { tree: TempTree; gated: Gated };
  beforeAll(async () => {
    fixture.tree = (options.tree ?? standardTree)();
    options.before?.(fixture.tree);
    fixture.gated = await Gated.start({
      tenantsDir: fixture.tree.tenants,
      dataDir: fixture.tree.data,
      log: silentLogger(),
      watch: false,
      ...options.gated,
    });
  });
  afterAll(async () => {
    await fixture.gated?.stop();
    fixture.tree?.cleanup();
  });
  return fixture;
}
