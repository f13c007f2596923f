// The shape every `warren` subcommand has, and the options all of them share. In core so that each component can
// own its subcommands (gated/cli, gateway/cli, crackbox/cli, core/secrets/cli) without importing the cli/ layer.
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolve } from 'node:path';
import { openDbReadOnly, type Db } from './db.js';
import { warrenDbPath } from './warren-db.js';

export interface CommonOptions {
  /** The tenant tree (default ./tenants). */
  tenants: string;
  /** Where warren keeps its databases and sockets (default ./data). */
  data: string;
}

export interface Command {
  /** One line for `warren --help`. */
  summary: string;
  /** Full usage text for `warren <command> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[], common: CommonOptions): Promise<number>;
}

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  tenants: { type: 'string' },
  data: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const COMMON_USAGE = `Common options:
  --tenants DIR   the tenant tree (default: ./tenants)
  --data DIR      databases and sockets (default: ./data)
  -h, --help      this help`;

export function commonFrom(values: { tenants?: unknown; data?: unknown }): CommonOptions {
  return {
    tenants: resolve(typeof values.tenants === 'string' ? values.tenants : process.env.WARREN_TENANTS ?? 'tenants'),
    data: resolve(typeof values.data === 'string' ? values.data : process.env.WARREN_DATA ?? 'data'),
  };
}

/** parseArgs with the common options added; unknown options are usage errors, not silently ignored. */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * DATA/warren.db opened read-only, for commands that only read (audit, egress log, messages): they never create the
 * database or the data folder, so a mistyped --data says so instead of leaving an empty database behind.
 */
export function openDataReadOnly(dataDir: string): Db {
  const file = warrenDbPath(dataDir);
  if (!existsSync(file)) throw new Error(`no warren data at ${dataDir}`);
  return openDbReadOnly(file);
}

/** Whether the database has a table (a read-only reader cannot create what a component that never ran would). */
export function hasTable(db: Db, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** Resolves at the first SIGINT or SIGTERM: how foreground commands (`up`, `gated`, `crackbox run`) wait to stop. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}
