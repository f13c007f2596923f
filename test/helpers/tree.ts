// Builds real tenant trees in temp folders for tests.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface TempTree {
  root: string;
  tenants: string;
  data: string;
  /** Writes a file relative to tenants/, creating folders. */
  write(rel: string, text: string): string;
  mkdir(rel: string): string;
  cleanup(): void;
}

export function tempTree(files: Record<string, string> = {}): TempTree {
  const root = mkdtempSync(join(tmpdir(), 'warren-'));
  const tenants = join(root, 'tenants');
  const data = join(root, 'data');
  mkdirSync(tenants);
  const tree: TempTree = {
    root,
    tenants,
    data,
    write(rel, text) {
      const file = join(tenants, rel);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
      return file;
    },
    mkdir(rel) {
      const dir = join(tenants, rel);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  for (const [rel, text] of Object.entries(files)) {
    if (rel.endsWith('/')) tree.mkdir(rel);
    else tree.write(rel, text);
  }
  return tree;
}

/** A small standard tree: root, a world, a team and a sub-team. */
export function standardTree(): TempTree {
  return tempTree({
    'root/PERSONA.md': '---\nname: root\n---\nThe operator.\n',
    'acme/PERSONA.md': '---\nname: acme\n---\nThe acme world.\n',
    'acme/support/PERSONA.md': '---\nname: support\n---\nSupport team.\n',
    'acme/support/triage/': '',
    'globex/': '',
  });
}
