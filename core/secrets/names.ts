// Which names a secret may have, and which values it may hold. Secrets become environment variables of the tenant's
// container, so names are env-var names, minus the ones the container itself depends on.

const NAME = /^[A-Z_][A-Z0-9_]*$/;
export const MAX_NAME_LENGTH = 128;
/** Env values cannot contain NUL and very large ones break exec; 64 KiB is far above any real credential. */
export const MAX_VALUE_BYTES = 64 * 1024;

/** Names the container runtime sets or relies on; a secret must never override them. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'PATH',
  'HOME',
  'NODE_OPTIONS',
  'LD_PRELOAD',
  'LD_LIBRARY_PATH',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'FTP_PROXY',
]);
export const RESERVED_PREFIX = 'WARREN_';

/** Why `name` cannot name a secret, or null when it can. */
export function secretNameProblem(name: string): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'empty secret name';
  if (name.length > MAX_NAME_LENGTH) return `secret name longer than ${MAX_NAME_LENGTH} characters`;
  if (!NAME.test(name)) {
    return `"${name}" is not a valid name: use upper-case letters, digits and "_", not starting with a digit (like OPENAI_API_KEY)`;
  }
  // Proxy variables are also read in lower case; the pattern already rejects lower case, this keeps the intent explicit.
  if (RESERVED_NAMES.has(name) || RESERVED_NAMES.has(name.toUpperCase())) {
    return `"${name}" is reserved: containers rely on it`;
  }
  if (name.startsWith(RESERVED_PREFIX)) return `"${name}" is reserved: names starting with ${RESERVED_PREFIX} belong to warren`;
  return null;
}

export function isSecretName(name: string): boolean {
  return secretNameProblem(name) === null;
}

/** Why `value` cannot be stored as a secret, or null when it can. */
export function secretValueProblem(value: string): string | null {
  if (value.length === 0) return 'the value is empty';
  if (value.includes('\0')) return 'the value contains a NUL byte, which an environment variable cannot hold';
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) return `the value is larger than ${MAX_VALUE_BYTES} bytes`;
  return null;
}
