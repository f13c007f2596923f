// The pinned Claude Code CLI: one version for both image routes (images/agent/Dockerfile must say the same; a test
// checks). Claude Code ships as a native binary inside a per-platform npm package; the wrapper package's postinstall
// hard-links it over bin/claude.exe.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { copyLibrariesFor } from './rootfs.js';

export const CLAUDE_CODE_PACKAGE = '@anthropic-ai/claude-code';
export const CLAUDE_CODE_VERSION = '2.1.329';
/** Same prefix as `npm install -g` in the node:20-slim image, so both routes put `claude` at the same path. */
export const CLAUDE_CODE_PREFIX = '/usr/local';

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/**
 * Installs the pinned CLI into the rootfs with the host's npm. Needs the npm registry (it downloads the package);
 * throws with a clear message when that fails. Returns the bytes of the libraries added for the native binary.
 */
export function installClaudeCode(root: string, say: (m: string) => void = () => {}): number {
  const prefix = join(root, CLAUDE_CODE_PREFIX);
  const spec = `${CLAUDE_CODE_PACKAGE}@${CLAUDE_CODE_VERSION}`;
  say(`installing ${spec} from the npm registry into ${CLAUDE_CODE_PREFIX}`);
  try {
    execFileSync(
      'npm',
      ['install', '--global', '--prefix', prefix, '--no-fund', '--no-audit', '--no-update-notifier', spec],
      { stdio: ['ignore', 2, 2], env: { ...process.env, npm_config_loglevel: 'warn' } },
    );
  } catch (error) {
    throw new Error(
      `could not install ${spec} with npm (this needs the npm registry; the offline build without ` +
        `--with-claude-code does not): ${(error as Error).message}`,
    );
  }
  const pkgDir = join(prefix, 'lib', 'node_modules', CLAUDE_CODE_PACKAGE);
  const exe = join(pkgDir, 'bin', 'claude.exe');
  if (!existsSync(exe)) throw new Error(`${spec} installed without ${exe}; its layout changed, update images/claude-code.ts`);
  if (!isElf(exe)) {
    // npm versions that hold back install scripts leave the placeholder: run the package's own postinstall.
    say('running the package postinstall to place the native binary');
    execFileSync(process.execPath, ['install.cjs'], { cwd: pkgDir, stdio: ['ignore', 2, 2] });
    if (!isElf(exe)) throw new Error(`${spec}: no native binary for this platform after postinstall`);
  }
  return copyLibrariesFor(root, exe, say);
}
