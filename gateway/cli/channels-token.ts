// `warren channels token <world> [<name>] [--remove]`: a world's channel credentials (a Telegram bot token).
//   printf %s "$TOKEN" | warren channels token acme telegram     store (sealed), read from piped stdin only
//   warren channels token acme telegram --remove                 delete
//   warren channels token acme                                   which credentials acme has (names only)
// The value never comes from argv or a prompt; it is sealed like secrets but never handed to a container.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parse, UsageError, type Command, type CommonOptions } from '../../core/command.js';
import { loadKeyring, SECRETS_DB, SecretsError, SecretStore } from '../../core/secrets/index.js';
import { readPipedValue } from '../../core/secrets/read-value.js';
import { parseTenantPath, tierOf } from '../../core/tenant-path.js';

/** Credentials an adapter uses, by name, with what a valid value looks like. */
export const CHANNEL_CREDENTIALS: Record<string, { what: string; shape: RegExp }> = {
  telegram: { what: 'a Telegram bot token from @BotFather (like 123456789:AA…)', shape: /^\d+:[A-Za-z0-9_-]{20,}$/ },
};

export const TOKEN_USAGE = `Usage: warren channels token <world> [<name>] [--remove] [--key-file FILE]

  printf %s "$TOKEN" | warren channels token <world> telegram
                        seal the world's Telegram bot token (read from piped stdin, never from argv or a prompt)
  warren channels token <world> telegram --remove
                        delete it
  warren channels token <world>
                        list which channel credentials the world has (names only, never values)

Credentials: ${Object.keys(CHANNEL_CREDENTIALS).join(', ')}. They are sealed with the secrets key (DATA/${SECRETS_DB}),
belong to the host and are never given to any container.`;

export interface TokenIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

export async function channelsToken(argv: string[], common: CommonOptions, io: TokenIo): Promise<number> {
  const { values, positionals } = parse(argv, { remove: { type: 'boolean' }, 'key-file': { type: 'string' } });
  const [rawWorld, name, extra] = positionals;
  if (extra !== undefined) throw new UsageError('a credential is never taken from the command line; pipe it on stdin');
  if (rawWorld === undefined) throw new UsageError('missing <world>');
  let world: string;
  try {
    world = parseTenantPath(rawWorld);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (tierOf(world) !== 1) throw new UsageError(`"${world}" is not a world: channel credentials belong to a top-level tenant`);
  if (name !== undefined && !(name in CHANNEL_CREDENTIALS)) {
    throw new UsageError(`unknown credential "${name}" (known: ${Object.keys(CHANNEL_CREDENTIALS).join(', ')})`);
  }
  if (values.remove && name === undefined) throw new UsageError('--remove needs the credential name');
  try {
    // Open the store first: a missing or wrong key is reported before anything is read.
    const store = SecretStore.open(join(common.data, SECRETS_DB), loadKeyring({ dataDir: common.data, keyFile: values['key-file'], env: io.env }));
    try {
      if (name === undefined) {
        const list = store.listCredentials(world);
        if (list.length === 0) io.stdout.write(`${world} has no channel credentials\n`);
        else for (const c of list) io.stdout.write(`${c.name}  (sealed under key ${c.keyId}, updated ${c.updatedAt})\n`);
        return 0;
      }
      if (values.remove) {
        if (store.removeCredential(world, name)) {
          io.stdout.write(`removed the ${name} credential of ${world}\n`);
          return 0;
        }
        io.stderr.write(`warren channels: ${world} has no ${name} credential\n`);
        return 1;
      }
      if (io.stdin.isTTY) {
        throw new SecretsError(`pipe the ${name} credential on stdin: printf %s "$TOKEN" | warren channels token ${world} ${name}`);
      }
      const value = (await readPipedValue(io.stdin)).trim();
      if (value.length === 0) throw new SecretsError('nothing on stdin; nothing was stored');
      const kind = CHANNEL_CREDENTIALS[name]!;
      if (!kind.shape.test(value)) throw new SecretsError(`that is not ${kind.what}; nothing was stored`);
      if (!existsSync(join(common.tenants, world))) {
        io.stderr.write(`warning: world folder ${join(common.tenants, world)} does not exist (yet); storing the credential anyway\n`);
      }
      const info = store.setCredential(world, name, value);
      io.stdout.write(`stored the ${name} credential of ${world} (sealed under key ${info.keyId}); restart warren up to use it\n`);
      return 0;
    } finally {
      store.close();
    }
  } catch (e) {
    if (e instanceof SecretsError) {
      io.stderr.write(`warren channels: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
