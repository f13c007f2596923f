// Assembles the agent image's root filesystem from this host, without any registry: the host's node binary, the
// shared libraries `ldd` says it needs (and the dynamic loader), minimal /etc files for uid 1000, and the empty
// directories the container spec mounts over. Library paths keep the host's layout, symlinks included (on a
// merged-/usr Debian /lib is a link to usr/lib and the loader a link into it), so the binaries find them unchanged.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { AGENT_GID, AGENT_UID, CONTAINER_PATHS } from '../core/container.js';

/** Where the node binary lives inside the image, whatever its path on the host. */
export const IMAGE_NODE = '/usr/local/bin/node';

/** Directories every agent image has; the container spec mounts onto some of them, so they must exist. */
export const IMAGE_DIRS: ReadonlyArray<{ path: string; mode: number }> = [
  { path: '/tmp', mode: 0o1777 },
  { path: CONTAINER_PATHS.home, mode: 0o755 },
  { path: CONTAINER_PATHS.socketDir, mode: 0o755 },
  { path: CONTAINER_PATHS.runnerDir, mode: 0o755 },
  { path: CONTAINER_PATHS.configDir, mode: 0o755 },
  { path: '/proc', mode: 0o755 },
  { path: '/sys', mode: 0o755 },
  { path: '/dev', mode: 0o755 },
];

/** Small files written verbatim into the image. No shell exists, so the node user's shell is nologin. */
export const IMAGE_FILES: Readonly<Record<string, string>> = {
  '/etc/passwd': `root:x:0:0:root:/root:/usr/sbin/nologin\nnode:x:${AGENT_UID}:${AGENT_GID}:node:${CONTAINER_PATHS.home}:/usr/sbin/nologin\n`,
  '/etc/group': `root:x:0:\nnode:x:${AGENT_GID}:\n`,
  '/etc/nsswitch.conf': 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n',
};

/** Host files copied when present: TLS roots (the agent's HTTPS goes through the egress proxy, but still verifies). */
export const OPTIONAL_HOST_FILES = ['/etc/ssl/certs/ca-certificates.crt'];

/**
 * The absolute library paths in `ldd` output, the dynamic loader included. Throws on "not found": an image whose
 * binary cannot load is worse than no image.
 */
export function parseLdd(output: string): string[] {
  const libs: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('linux-vdso') || line.startsWith('linux-gate')) continue;
    if (/\bstatically linked\b/.test(line)) continue;
    if (/=>\s*not found/.test(line)) throw new Error(`ldd: missing library: ${line}`);
    const arrow = /^\S+\s+=>\s+(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    const bare = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path === undefined) throw new Error(`ldd: unexpected line: ${line}`);
    if (!libs.includes(path)) libs.push(path);
  }
  return libs;
}

/** The shared libraries (and loader) a host binary needs, as ldd reports them. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    // ldd exits 1 for static binaries ("not a dynamic executable"): nothing to copy.
    if (`${e.stdout ?? ''}${e.stderr ?? ''}`.includes('not a dynamic executable')) return [];
    throw new Error(`ldd ${binary} failed: ${(error as Error).message}`);
  }
  return parseLdd(out);
}

/**
 * Copies the host file at absolute `hostPath` into `root` at the same path, recreating every symlink met on the way
 * (a symlinked directory component or the file itself) so the path resolves the same way inside the image.
 */
export function mirrorHostPath(root: string, hostPath: string, depth = 0): number {
  if (depth > 40) throw new Error(`too many levels of symbolic links at ${hostPath}`);
  if (!isAbsolute(hostPath)) throw new Error(`not an absolute path: ${hostPath}`);
  const parts = hostPath.split('/').filter((p) => p.length > 0);
  let current = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(current, parts[i]!);
    const st = lstatSync(next);
    const inRoot = join(root, next);
    if (st.isSymbolicLink()) {
      const target = readlinkSync(next);
      if (!existsOrLink(inRoot)) {
        mkdirSync(dirname(inRoot), { recursive: true });
        symlinkSync(target, inRoot);
      }
      const resolved = posix.resolve(current, target);
      return mirrorHostPath(root, posix.join(resolved, ...parts.slice(i + 1)), depth + 1);
    }
    if (i === parts.length - 1) {
      if (!st.isFile()) throw new Error(`${next} is not a regular file`);
      if (existsOrLink(inRoot)) return 0;
      mkdirSync(dirname(inRoot), { recursive: true });
      copyFileSync(next, inRoot);
      chmodSync(inRoot, st.mode & 0o755); // never setuid/setgid in the image
      return st.size;
    }
    if (!st.isDirectory()) throw new Error(`${next} is not a directory`);
    if (!existsOrLink(inRoot)) {
      mkdirSync(inRoot, { recursive: true });
      chmodSync(inRoot, 0o755);
    }
    current = next;
  }
  return 0;
}

function existsOrLink(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export interface AssembleOptions {
  /** The node binary to put in the image (default: the one running this build). */
  nodeBinary?: string;
  progress?: (message: string) => void;
}

/** Builds the root filesystem in `root` (an empty directory). Returns the bytes of binaries and libraries copied. */
export function assembleRootfs(root: string, opts: AssembleOptions = {}): number {
  const say = opts.progress ?? (() => {});
  const node = resolve(opts.nodeBinary ?? process.execPath);
  let bytes = 0;

  for (const d of IMAGE_DIRS) {
    mkdirSync(join(root, d.path), { recursive: true });
    chmodSync(join(root, d.path), d.mode);
  }
  for (const [path, text] of Object.entries(IMAGE_FILES)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text, { mode: 0o644 });
    chmodSync(join(root, path), 0o644);
  }

  say(`copying node binary ${node} -> ${IMAGE_NODE}`);
  mkdirSync(dirname(join(root, IMAGE_NODE)), { recursive: true });
  copyFileSync(node, join(root, IMAGE_NODE)); // copyFile follows a symlinked node (nvm, alternatives)
  chmodSync(join(root, IMAGE_NODE), 0o755);
  bytes += statSync(node).size;

  bytes += copyLibrariesFor(root, node, say);

  for (const f of OPTIONAL_HOST_FILES) {
    if (existsSync(f)) {
      say(`copying ${f}`);
      bytes += mirrorHostPath(root, f);
    }
  }
  return bytes;
}

/** Copies the shared libraries of a host binary into the rootfs. Returns the bytes copied. */
export function copyLibrariesFor(root: string, binary: string, say: (m: string) => void = () => {}): number {
  const libs = sharedLibraries(binary);
  say(`copying ${libs.length} shared librar${libs.length === 1 ? 'y' : 'ies'} for ${binary}`);
  let bytes = 0;
  for (const lib of libs) bytes += mirrorHostPath(root, lib);
  return bytes;
}
