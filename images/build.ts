// Builds the agent image without a registry: assemble a rootfs from this host (images/rootfs.ts), tar it
// (images/tar.ts) and `docker import` it through the engine API with the image config given as Dockerfile-style
// changes. The tag is the same as the Dockerfile route's, so the gateway does not care which route made it.
import Docker from 'dockerode';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, createWriteStream, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { CLAUDE_CODE_VERSION, installClaudeCode } from './claude-code.js';
import { AGENT_GID, AGENT_UID, AGENT_USER, CONTAINER_PATHS } from '../core/container.js';
import { IMAGE_NODE, assembleRootfs } from './rootfs.js';
import { installShellTools } from './shell-tools.js';
import { tarDirectory, type OwnershipRule } from './tar.js';

export const AGENT_IMAGE_REPO = 'warren/agent';

let cachedRoot: string | undefined;

/** The warren package directory (the one holding its package.json), from sources or from dist/. */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'warren') return (cachedRoot = dir);
    } catch {
      // not here: keep walking up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the warren package.json');
    dir = up;
  }
}

/** warren's own version, from its package.json. */
export function warrenVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new Error('warren package.json has no version');
  return pkg.version;
}

/** `warren/agent:<package.json version>`: the one tag both build routes produce. */
export function agentImageTag(): string {
  return `${AGENT_IMAGE_REPO}:${warrenVersion()}`;
}

/** The tag the end-to-end suite builds and reuses for the `--with-claude-code` image (one per pinned version). */
export function claudeCodeImageTag(): string {
  return `${AGENT_IMAGE_REPO}:${warrenVersion()}-claude-code-${CLAUDE_CODE_VERSION}`;
}

export interface BuildOptions {
  docker?: Docker;
  /** Image reference to produce (default agentImageTag()). */
  tag?: string;
  /** Also install the pinned Claude Code CLI (needs the npm registry). */
  withClaudeCode?: boolean;
  /** Node binary to put in the image (default: the one running the build). */
  nodeBinary?: string;
  progress?: (message: string) => void;
}

/** Splits "repo/name:tag" (the registry part may have a port: "host:5000/x:y"). */
export function splitReference(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/') && colon > 0) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

/** The image config, as the Dockerfile instructions `docker import --change` accepts. */
export function importChanges(meta: { version: string; node: string; claudeCode: string | null }): string[] {
  // The Claude Code image carries bash (images/shell-tools.ts); Claude Code's Bash tool runs $SHELL.
  const shell = meta.claudeCode ? ['ENV SHELL=/bin/bash'] : [];
  return [
    `USER ${AGENT_USER}`,
    `WORKDIR ${CONTAINER_PATHS.home}`,
    'ENV PATH=/usr/local/bin:/usr/bin:/bin',
    `ENV HOME=${CONTAINER_PATHS.home}`,
    'ENV NODE_ENV=production',
    ...shell,
    `ENTRYPOINT ${JSON.stringify([IMAGE_NODE, CONTAINER_PATHS.runner])}`,
    'CMD []',
    `LABEL warren.image=agent warren.version=${meta.version} warren.image.route=offline ` +
      `warren.image.node=${meta.node} warren.image.claude-code=${meta.claudeCode ?? 'none'}`,
  ];
}

/** In the image everything belongs to root except the agent's home. */
export const imageOwnership: OwnershipRule = (path, stat) => {
  const home = CONTAINER_PATHS.home.slice(1);
  const agent = path === home || path.startsWith(`${home}/`);
  return { uid: agent ? AGENT_UID : 0, gid: agent ? AGENT_GID : 0, mode: stat.mode & 0o7777 };
};

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function counter(onBytes: (total: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      total += chunk.length;
      onBytes(total);
      done(null, chunk);
    },
  });
}

/** Reports at most every `step` bytes so progress lines stay few. */
function throttled(say: (m: string) => void, label: string, step = 32 * 1024 * 1024): (total: number) => void {
  let next = step;
  return (total) => {
    if (total >= next) {
      say(`${label}: ${mb(total)}`);
      next = total + step;
    }
  };
}

export async function buildAgentImage(opts: BuildOptions = {}): Promise<{ tag: string; id: string }> {
  const docker = opts.docker ?? new Docker();
  const say = opts.progress ?? (() => {});
  const tag = opts.tag ?? agentImageTag();
  const work = mkdtempSync(join(tmpdir(), 'warren-image-'));
  try {
    const root = join(work, 'rootfs');
    mkdirSync(root);
    say(`[1/4] assembling root filesystem in ${root}`);
    let copied = assembleRootfs(root, { nodeBinary: opts.nodeBinary, progress: say });
    if (opts.withClaudeCode) {
      copied += installClaudeCode(root, say);
      copied += installShellTools(root, say);
    }
    say(`      ${mb(copied)} of binaries and libraries`);

    const changes = importChanges({
      version: warrenVersion(),
      node: process.version,
      claudeCode: opts.withClaudeCode ? CLAUDE_CODE_VERSION : null,
    });
    return await importRootfs({ docker, root, work, tag, changes, say });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Steps 2-4 of an offline build: tars `root` into `work`, imports it as `tag` with `changes` and checks the result.
 * Shared by the agent image and the crackbox image (images/crackbox.ts).
 */
export async function importRootfs(opts: {
  docker: Docker;
  root: string;
  work: string;
  tag: string;
  changes: string[];
  say: (message: string) => void;
}): Promise<{ tag: string; id: string }> {
  const { docker, root, work, tag, changes, say } = opts;
  const tarFile = join(work, 'rootfs.tar');
  say('[2/4] writing tar archive');
  // Written to a file first: a source error mid-stream must fail the build, never import half a filesystem.
  await pipeline(
    Readable.from(tarDirectory(root, imageOwnership)),
    counter(throttled(say, '      tar')),
    createWriteStream(tarFile),
  );
  const size = statSync(tarFile).size;
  say(`      ${mb(size)} archive`);
  rmSync(root, { recursive: true, force: true });

  const { repo, tag: version } = splitReference(tag);
  say(`[3/4] importing into Docker as ${repo}:${version}`);
  const upload = createReadStream(tarFile).pipe(counter(throttled(say, '      sent')));
  const response = await docker.importImage(upload, { repo, tag: version, changes });
  const events = await new Promise<Array<{ status?: string; error?: string }>>((resolve, reject) => {
    docker.modem.followProgress(response, (err: Error | null, out: Array<{ status?: string; error?: string }>) =>
      err ? reject(err) : resolve(out),
    );
  });
  const failed = events.find((e) => e.error);
  if (failed) throw new Error(`docker import failed: ${failed.error}`);

  say('[4/4] checking the image');
  const info = await docker.getImage(`${repo}:${version}`).inspect();
  say(`built ${repo}:${version} (${info.Id.slice(0, 19)}, ${mb(info.Size)})`);
  return { tag: `${repo}:${version}`, id: info.Id };
}

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

const LOCK_DIR = join(tmpdir(), 'warren-agent-image-build.lock');
const LOCK_WAIT_MS = 10 * 60 * 1000;

function lockHolderAlive(): boolean {
  try {
    const pid = Number(readFileSync(join(LOCK_DIR, 'pid'), 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return false;
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but is not ours, so it is alive. A missing pid file is a lock being created.
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EPERM' || code === 'ENOENT';
  }
}

/** Runs `fn` while holding a machine-wide lock, so parallel test workers build the image once, not N times. */
async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!lockHolderAlive()) {
        rmSync(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the image build lock ${LOCK_DIR}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

/** The agent image's tag and id, building it (offline route) only when the tag is missing. */
export async function ensureAgentImage(opts: BuildOptions = {}): Promise<{ tag: string; id: string }> {
  const docker = opts.docker ?? new Docker();
  const tag = opts.tag ?? agentImageTag();
  const existing = async () => ({ tag, id: (await docker.getImage(tag).inspect()).Id });
  if (await imageExists(docker, tag)) return existing();
  return withBuildLock(async () => {
    if (await imageExists(docker, tag)) return existing(); // another process built it while we waited
    return buildAgentImage({ ...opts, docker, tag });
  });
}
