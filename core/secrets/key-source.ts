// Where the master key comes from, and reading/writing the key file safely. Precedence: --key-file, then
// $WARREN_SECRETS_KEY (for deployments that inject it), then $WARREN_SECRETS_KEY_FILE, then DATA/secrets.key.
// Setting both environment variables is ambiguous and refused rather than resolved silently.
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SecretsError } from './errors.js';
import { MAX_KEY_FILE_BYTES, keyFilePermissionProblem, parseEnvKey, parseKeyFile, serializeKeyFile, type KeySource, type Keyring } from './keyring.js';

export const KEY_ENV = 'WARREN_SECRETS_KEY';
export const KEY_FILE_ENV = 'WARREN_SECRETS_KEY_FILE';
export const DEFAULT_KEY_FILE = 'secrets.key';

export interface KeyOptions {
  /** DATA directory (holds secrets.db and, by default, secrets.key). */
  dataDir: string;
  /** Explicit key file (the --key-file option); wins over the environment. */
  keyFile?: string;
  /** Environment to read; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Decides where the key comes from without touching the file system. */
export function resolveKeySource(opts: KeyOptions): KeySource {
  if (opts.keyFile) return { kind: 'file', file: resolve(opts.keyFile) };
  const env = opts.env ?? process.env;
  const inline = env[KEY_ENV];
  const fromEnvFile = env[KEY_FILE_ENV];
  if (inline !== undefined && inline !== '' && fromEnvFile) {
    throw new SecretsError(`both $${KEY_ENV} and $${KEY_FILE_ENV} are set; unset one so it is clear which key is meant`);
  }
  if (inline !== undefined && inline !== '') return { kind: 'env', variable: KEY_ENV };
  if (fromEnvFile) return { kind: 'file', file: resolve(fromEnvFile) };
  return { kind: 'file', file: join(resolve(opts.dataDir), DEFAULT_KEY_FILE) };
}

/** Loads the keyring or throws a SecretsError saying what to do. Never returns a partial or default key. */
export function loadKeyring(opts: KeyOptions): Keyring {
  const source = resolveKeySource(opts);
  if (source.kind === 'env') return parseEnvKey((opts.env ?? process.env)[source.variable] ?? '', source.variable);
  return readKeyFile(source.file);
}

/** Reads a key file, checking (on the open descriptor, so no swap in between) that only its owner can read it. */
export function readKeyFile(file: string): Keyring {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK); // a FIFO in its place must not hang start-up
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new SecretsError(
        `no secrets key: ${file} does not exist. Run "warren secrets init" to create one, ` +
          `point --key-file or $${KEY_FILE_ENV} at yours, or set $${KEY_ENV}`,
      );
    }
    throw new SecretsError(`cannot read key file ${file}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretsError(`key file ${file} is not a regular file`);
    const problem = keyFilePermissionProblem(file, st, process.getuid?.());
    if (problem) throw new SecretsError(problem);
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let len = 0;
    for (let n; len < buf.length && (n = readSync(fd, buf, len, buf.length - len, null)) > 0; ) len += n;
    if (len > MAX_KEY_FILE_BYTES) throw new SecretsError(`key file ${file} is larger than ${MAX_KEY_FILE_BYTES} bytes; it is not a key file`);
    return parseKeyFile(buf.subarray(0, len).toString('utf8'), file);
  } finally {
    closeSync(fd);
  }
}

export interface WriteKeyFileOptions {
  /** Refuse if the file already exists (init), instead of replacing it (rotation). */
  exclusive?: boolean;
  /** Test hook: runs after the temp file is durable and before it takes the file's place. */
  beforeCommit?: () => void;
}

/**
 * Writes a key file atomically: a 0600 temp file next to it, fsync, then rename (or link when exclusive, which fails
 * if the file exists), then fsync of the directory. A crash leaves either the old file or the new one, never half.
 */
export function writeKeyFile(file: string, ring: Keyring, opts: WriteKeyFileOptions = {}): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  removeIfPresent(tmp); // a leftover from a crash; it may hold key material and is rewritten below anyway
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      fchmodSync(fd, 0o600); // the umask can only remove bits; this makes the mode exact
      const data = Buffer.from(serializeKeyFile(ring), 'utf8');
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    opts.beforeCommit?.();
    if (opts.exclusive) {
      try {
        linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new SecretsError(`key file ${file} already exists; refusing to overwrite it (that would lose the key its secrets are sealed with)`);
        }
        throw e;
      }
      unlinkSync(tmp);
    } else {
      renameSync(tmp, file);
    }
  } catch (e) {
    removeIfPresent(tmp);
    throw e;
  }
  fsyncDir(dir);
}

function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
