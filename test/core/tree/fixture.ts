// Builds real tenant trees in a temp folder for the tree tests.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Fixture {
  dir: string;
  /** Absolute path of a file or folder in the tree. */
  at(rel: string): string;
  /** Writes a file (creating folders); `rel` uses '/' separators. */
  write(rel: string, text: string): string;
  mkdir(rel: string): string;
  rm(rel: string): void;
  symlink(target: string, rel: string): void;
  cleanup(): void;
}

/** `files` maps relative paths to contents; a value of null makes a folder. */
export function makeTree(files: Record<string, string | null> = {}): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-'));
  const at = (rel: string) => path.join(dir, ...rel.split('/'));
  const fx: Fixture = {
    dir,
    at,
    write(rel, text) {
      const file = at(rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
      return file;
    },
    mkdir(rel) {
      fs.mkdirSync(at(rel), { recursive: true });
      return at(rel);
    },
    rm(rel) {
      fs.rmSync(at(rel), { recursive: true, force: true });
    },
    symlink(target, rel) {
      fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
      fs.symlinkSync(target, at(rel));
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const [rel, text] of Object.entries(files)) {
    if (text === null) fx.mkdir(rel);
    else fx.write(rel, text);
  }
  return fx;
}

export const persona = (fields: string, body = 'You help.') => `---\n${fields}\n---\n${body}\n`;
