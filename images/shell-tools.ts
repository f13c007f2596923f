// The shell and the everyday tools an agent's Bash tool calls (Claude Code refuses to run Bash without a POSIX shell,
// and dash as /bin/sh alone is not enough: it looks for bash). Built into the `--with-claude-code` image offline from
// Debian's packages: `apt-get download` fetches the .debs of the pinned set into a cache (reused when the same
// versions are there and their SHA-256 matches), `dpkg-deb -x` unpacks each into a staging folder, the files are
// merged into the rootfs (through the rootfs's own links, so a merged /usr stays merged) and every ELF file's shared
// libraries are copied from the host with the same ldd code as node's. No maintainer scripts run.
// Claude Code's Grep and Glob use the ripgrep built into its own binary (USE_BUILTIN_RIPGREP defaults to on), so no
// ripgrep package.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, posix } from 'node:path';
import { copyLibrariesFor } from './rootfs.js';

/** Debian packages unpacked into the Claude Code image. Their libraries come from the host (ldd). */
export const SHELL_TOOL_PACKAGES = Object.freeze([
  'bash',
  'dash',
  'coreutils',
  'debianutils',
  'diffutils',
  'findutils',
  'grep',
  'sed',
  'tar',
  'gzip',
  'git',
]);

/** Parts of a package an agent's shell never needs: documentation and translations. */
const SKIPPED_PREFIXES = ['usr/share/doc/', 'usr/share/man/', 'usr/share/info/', 'usr/share/locale/', 'usr/share/lintian/'];

export interface DebFile {
  url: string;
  file: string;
  size: number;
  sha256: string;
}

/** The lines of `apt-get download --print-uris`: `'<url>' <file> <size> SHA256:<hex>`. Throws on anything else. */
export function parsePrintUris(output: string): DebFile[] {
  const files: DebFile[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^'([^']+)'\s+(\S+\.deb)\s+(\d+)\s+SHA256:([0-9a-f]{64})$/.exec(line);
    if (!m) throw new Error(`apt-get download --print-uris: unexpected line: ${line}`);
    if (m[2]!.includes('/')) throw new Error(`apt-get download --print-uris: unexpected file name: ${m[2]}`);
    files.push({ url: m[1]!, file: m[2]!, size: Number(m[3]), sha256: m[4]! });
  }
  return files;
}

/** Where downloaded .debs are kept between builds. */
export function debCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WARREN_DEB_CACHE) return env.WARREN_DEB_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'warren', 'debs');
}

function sha256Of(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function apt(args: string[], cwd: string): string {
  try {
    return execFileSync('apt-get', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: string; code?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('the shell tools come from Debian packages, and apt-get is not on this host');
    throw new Error(
      `apt-get ${args[0]} ${args[1] ?? ''} failed (on a fresh machine run "apt-get update" first): ${(e.stderr ?? e.message).trim()}`,
    );
  }
}

/** The .debs of `packages` in `cacheDir`, downloading only those missing or not matching their checksum. */
export function fetchDebs(packages: readonly string[], cacheDir: string, say: (m: string) => void = () => {}): string[] {
  mkdirSync(cacheDir, { recursive: true });
  const wanted = parsePrintUris(apt(['download', '--print-uris', ...packages], cacheDir));
  if (wanted.length !== packages.length) {
    throw new Error(`apt-get download --print-uris listed ${wanted.length} files for ${packages.length} packages`);
  }
  const fresh = (d: DebFile) => existsSync(join(cacheDir, d.file)) && sha256Of(join(cacheDir, d.file)) === d.sha256;
  const missing = wanted.filter((d) => !fresh(d));
  if (missing.length > 0) {
    const names = missing.map((d) => d.file.split('_')[0]!);
    say(`downloading ${missing.length} Debian package(s) into ${cacheDir}: ${names.join(' ')}`);
    for (const d of missing) rmSync(join(cacheDir, d.file), { force: true });
    apt(['download', ...names], cacheDir);
    for (const d of missing) {
      if (!fresh(d)) throw new Error(`${d.file}: downloaded file does not match its SHA-256 ${d.sha256}`);
    }
  } else {
    say(`using ${wanted.length} cached Debian packages from ${cacheDir}`);
  }
  return wanted.map((d) => join(cacheDir, d.file));
}

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies the tree `staging` into `root`. Directories are created through links the rootfs already has; files keep
 * their hard links (git's commands are one binary under many names) and lose setuid/setgid. Returns the ELF files
 * copied (by their staging path) and the bytes written.
 */
export function mergeTree(staging: string, root: string): { elves: string[]; bytes: number } {
  const elves: string[] = [];
  const linked = new Map<string, string>(); // staging dev:ino -> path in root
  let bytes = 0;
  const walk = (rel: string) => {
    for (const name of readdirSync(join(staging, rel)).sort()) {
      const relPath = posix.join(rel, name);
      if (SKIPPED_PREFIXES.some((p) => `${relPath}/`.startsWith(p))) continue;
      const from = join(staging, relPath);
      const to = join(root, relPath);
      const st = lstatSync(from);
      if (st.isDirectory()) {
        mkdirSync(to, { recursive: true });
        walk(relPath);
      } else if (st.isSymbolicLink()) {
        if (!existsOrLink(to)) symlinkSync(readlinkSync(from), to);
      } else if (st.isFile()) {
        rmSync(to, { force: true });
        const key = `${st.dev}:${st.ino}`;
        const first = linked.get(key);
        if (first) {
          linkSync(first, to);
          continue;
        }
        copyFileSync(from, to);
        chmodSync(to, st.mode & 0o755);
        linked.set(key, to);
        bytes += st.size;
        if (st.mode & 0o111 && isElf(from)) elves.push(from);
      }
    }
  };
  walk('');
  return { elves, bytes };
}

function existsOrLink(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Unpacks the shell tools into the rootfs with their libraries. Returns the bytes added. */
export function installShellTools(root: string, say: (m: string) => void = () => {}, cacheDir = debCacheDir()): number {
  const debs = fetchDebs(SHELL_TOOL_PACKAGES, cacheDir, say);
  const work = mkdtempSync(join(root, '..', 'debs-'));
  try {
    let bytes = 0;
    const elves: string[] = [];
    for (const [i, deb] of debs.entries()) {
      const staging = join(work, String(i));
      say(`unpacking ${deb.split('/').pop()}`);
      execFileSync('dpkg-deb', ['-x', deb, staging], { stdio: ['ignore', 'ignore', 'pipe'] });
      const merged = mergeTree(staging, root);
      bytes += merged.bytes;
      for (const elf of merged.elves) bytes += copyLibrariesFor(root, elf);
      elves.push(...merged.elves);
    }
    say(`shell tools: ${elves.length} binaries, libraries copied from this host`);
    // dash's package ships /bin/sh -> dash; made sure of here, since `#!/bin/sh` scripts and git's hooks need it.
    if (!existsOrLink(join(root, 'bin', 'sh'))) symlinkSync('dash', join(root, 'bin', 'sh'));
    return bytes;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
