// `warren secrets`: init | set <tenant> <NAME> | list [<tenant>] | rm <tenant> <NAME> | rotate.
// Values are never taken from argv (shell history, `ps`); they come from piped stdin or a no-echo prompt.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parse, UsageError, type Command, type CommonOptions } from '../command.js';
import { parseTenantPath, type TenantPath } from '../tenant-path.js';
import { SecretsError } from './errors.js';
import { describeSource, makeKeyring, newKeyEntry } from './keyring.js';
import { KEY_ENV, KEY_FILE_ENV, loadKeyring, resolveKeySource, writeKeyFile } from './key-source.js';
import { secretNameProblem, secretValueProblem } from './names.js';
import { promptHidden, readPipedValue, type HiddenInput } from './read-value.js';
import { rotate } from './rotate.js';
import { resolveScope, scopeChain } from './scope.js';
import { SECRETS_DB, SecretStore, type SecretInfo } from './store.js';

const USAGE = `Usage: warren secrets <subcommand> [--key-file FILE]

Subcommands:
  init                  create the master key file (never overwrites one) and bind DATA/${SECRETS_DB} to it
  set <tenant> <NAME>   store a secret for a tenant and its subtree; the value is read from stdin when piped
                        (one trailing newline stripped) or from a no-echo prompt; never from the command line
  list [<tenant>]       names, where they are defined, key id and last change (never values); with a tenant,
                        what that tenant sees including inherited secrets
  rm <tenant> <NAME>    delete a secret
  rotate                re-seal every secret under a new key and retire the old one

Options:
  --key-file FILE       the key file (default: $${KEY_FILE_ENV}, else DATA/secrets.key).
                        $${KEY_ENV} (base64 of 32 bytes) is used instead of a file when set.`;

export interface SecretsIo {
  stdin: HiddenInput;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export function secretsCommand(io: SecretsIo): Command {
  return {
    summary: 'manage sealed per-tenant secrets',
    usage: USAGE,
    async run(argv: string[], common: CommonOptions): Promise<number> {
      const { values, positionals } = parse(argv, { 'key-file': { type: 'string' } });
      const ctx: Ctx = { io, common, keyFile: values['key-file'] };
      const [sub, ...args] = positionals;
      try {
        switch (sub) {
          case 'init':
            return init(ctx, args);
          case 'set':
            return await set(ctx, args);
          case 'list':
          case 'ls':
            return list(ctx, args);
          case 'rm':
            return rm(ctx, args);
          case 'rotate':
            return doRotate(ctx, args);
          case undefined:
            throw new UsageError('missing subcommand');
          default:
            throw new UsageError(`unknown subcommand "${sub}"`);
        }
      } catch (e) {
        if (e instanceof SecretsError) {
          io.stderr.write(`warren secrets: ${e.message}\n`);
          return 1;
        }
        throw e;
      }
    },
  };
}

export default secretsCommand({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });

interface Ctx {
  io: SecretsIo;
  common: CommonOptions;
  keyFile: string | undefined;
}

const dbFile = (ctx: Ctx): string => join(ctx.common.data, SECRETS_DB);
const keyOptions = (ctx: Ctx) => ({ dataDir: ctx.common.data, keyFile: ctx.keyFile, env: ctx.io.env });
const openStore = (ctx: Ctx): SecretStore => SecretStore.open(dbFile(ctx), loadKeyring(keyOptions(ctx)));

function expectArgs(args: string[], names: string[], optional = 0): void {
  if (args.length > names.length) throw new UsageError(`unexpected argument "${args[names.length]}"`);
  if (args.length < names.length - optional) throw new UsageError(`missing ${names.slice(args.length).join(' ')}`);
}

function tenantArg(raw: string): TenantPath {
  try {
    return parseTenantPath(raw);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function nameArg(raw: string): string {
  const problem = secretNameProblem(raw);
  if (problem) throw new UsageError(problem);
  return raw;
}

function init(ctx: Ctx, args: string[]): number {
  expectArgs(args, []);
  const source = resolveKeySource(keyOptions(ctx));
  if (source.kind !== 'file') {
    throw new SecretsError(`$${source.variable} is set, so a key file would not be used; unset it (or pass --key-file) to create one`);
  }
  if (existsSync(source.file)) {
    throw new SecretsError(`key file ${source.file} already exists; refusing to overwrite it (that would lose the key its secrets are sealed with)`);
  }
  const db = dbFile(ctx);
  if (existsSync(db)) {
    const { bound, keyIds } = SecretStore.inspect(db);
    const used = [...new Set([...(bound ? [bound] : []), ...keyIds])];
    if (used.length > 0) {
      throw new SecretsError(
        `${db} is already sealed under key ${used.join(', ')}, and a new key cannot open it. Restore that key file ` +
          `(--key-file or $${KEY_FILE_ENV}) instead; to start over without those secrets, move ${db} aside first`,
      );
    }
  }
  const entry = newKeyEntry();
  const ring = makeKeyring([entry], entry.id, source);
  writeKeyFile(source.file, ring, { exclusive: true });
  const store = SecretStore.open(db, ring);
  try {
    store.bind();
  } finally {
    store.close();
  }
  ctx.io.stdout.write(
    `created key file ${source.file} (key ${entry.id}, mode 0600) and bound ${db} to it.\n` +
      `Back the key file up somewhere safe: without it the secrets cannot be recovered.\n`,
  );
  return 0;
}

async function set(ctx: Ctx, args: string[]): Promise<number> {
  if (args.length > 2) {
    throw new UsageError(
      'secret values are never taken from the command line (they would end up in shell history and the process list); ' +
        'pipe the value on stdin (warren secrets set <tenant> <NAME> < file) or type it at the prompt',
    );
  }
  expectArgs(args, ['<tenant>', '<NAME>']);
  const tenant = tenantArg(args[0]!);
  const name = nameArg(args[1]!);
  // Open the store first: a missing or wrong key is reported before the operator types the value.
  const store = openStore(ctx);
  try {
    const folder = join(ctx.common.tenants, ...tenant.split('/'));
    if (!existsSync(folder)) {
      ctx.io.stderr.write(`warning: tenant folder ${folder} does not exist (yet); storing the secret anyway\n`);
    }
    const value = await readValue(ctx, `${name} for ${tenant}`);
    const problem = secretValueProblem(value);
    if (problem) throw new SecretsError(`nothing stored: ${problem}`);
    const info = store.set(tenant, name, value);
    ctx.io.stdout.write(`stored ${info.name} for ${info.tenant} (sealed under key ${info.keyId})\n`);
    return 0;
  } finally {
    store.close();
  }
}

async function readValue(ctx: Ctx, what: string): Promise<string> {
  const { stdin, stderr } = ctx.io;
  if (!stdin.isTTY) return readPipedValue(stdin as Readable);
  const first = await promptHidden(`Value of ${what} (not echoed): `, stdin, stderr);
  const again = await promptHidden('Again, to confirm: ', stdin, stderr);
  if (first !== again) throw new SecretsError('the two entries differ; nothing was stored');
  return first;
}

function list(ctx: Ctx, args: string[]): number {
  expectArgs(args, ['[<tenant>]'], 1);
  const tenant = args[0] === undefined ? undefined : tenantArg(args[0]);
  const store = openStore(ctx);
  try {
    const out = ctx.io.stdout;
    if (tenant === undefined) {
      const rows = store.list();
      if (rows.length === 0) {
        out.write('no secrets stored\n');
        return 0;
      }
      out.write(table(['TENANT', 'NAME', 'KEY', 'UPDATED'], rows.map((r) => [r.tenant, r.name, r.keyId, r.updatedAt])));
      return 0;
    }
    const chain = scopeChain(tenant);
    const defined = new Map(chain.map((t) => [t, new Map(store.list(t).map((i): [string, SecretInfo] => [i.name, i]))]));
    const { byName, rejected } = resolveScope(defined, chain);
    if (byName.size === 0) out.write(`${tenant} sees no secrets\n`);
    else {
      const rows = [...byName].map(([name, r]) => {
        let scope = r.definedAt === tenant ? 'here' : `inherited from ${r.definedAt}`;
        if (r.shadows.length > 0) scope += ` (overrides ${r.shadows.join(', ')})`;
        return [name, scope, r.value.keyId, r.value.updatedAt];
      });
      out.write(table(['NAME', 'SCOPE', 'KEY', 'UPDATED'], rows));
    }
    if (rejected.length > 0) ctx.io.stderr.write(`warning: stored names not handed out (invalid): ${rejected.join(', ')}\n`);
    return 0;
  } finally {
    store.close();
  }
}

function rm(ctx: Ctx, args: string[]): number {
  expectArgs(args, ['<tenant>', '<NAME>']);
  const tenant = tenantArg(args[0]!);
  const name = nameArg(args[1]!);
  const store = openStore(ctx);
  try {
    if (store.remove(tenant, name)) {
      ctx.io.stdout.write(`removed ${name} from ${tenant}\n`);
      return 0;
    }
    const from = scopeChain(tenant).slice(1).find((t) => store.list(t).some((i) => i.name === name));
    const hint = from ? `; ${tenant} inherits it from ${from}: remove it there` : '';
    ctx.io.stderr.write(`warren secrets: ${tenant} defines no secret ${name}${hint}\n`);
    return 1;
  } finally {
    store.close();
  }
}

function doRotate(ctx: Ctx, args: string[]): number {
  expectArgs(args, []);
  const ring = loadKeyring(keyOptions(ctx));
  if (ring.source.kind !== 'file') {
    throw new SecretsError(
      `the key comes from ${describeSource(ring.source)}, which warren cannot rewrite. Rotate with a key file ` +
        `(--key-file), then deploy its new key`,
    );
  }
  const r = rotate({ keyFile: ring.source.file, dbFile: dbFile(ctx) });
  ctx.io.stdout.write(
    (r.resumed ? 'finished an interrupted rotation: ' : '') +
      `re-sealed ${r.resealed} secret(s) under key ${r.to}` +
      (r.from.filter((id) => id !== r.to).length > 0 ? ` (was ${r.from.filter((id) => id !== r.to).join(', ')})` : '') +
      `; ${ring.source.file} now holds only ${r.to}. Replace your backup of it.\n`,
  );
  return 0;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
