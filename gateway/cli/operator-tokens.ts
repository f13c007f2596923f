// Listing and revoking the tokens the operator issues from the CLI (`warren hooks`, `warren chatlinks`): one kind at
// a time, never showing a secret (only hashes are stored).
import { hasTable, openDataReadOnly, UsageError } from '../../core/command.js';
import { silentLogger } from '../../core/log.js';
import { parseTenantPath, type TenantPath } from '../../core/tenant-path.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { MAX_TTL_S, type TokenKind } from '../../gated/tools/tokens.js';

/** The `list` and `revoke` subcommands of a command that issues tokens of `kind`; null when `sub` is neither. */
export function listOrRevoke(
  sub: string | undefined,
  rest: string[],
  o: { dataDir: string; kind: TokenKind; label: string; command: string; json: boolean | undefined },
): number | null {
  if (sub === 'list') {
    if (rest.length) throw new UsageError('list takes no arguments');
    listTokens(o.dataDir, o.kind, o.label, o.json);
    return 0;
  }
  if (sub === 'revoke') {
    if (rest.length !== 1) throw new UsageError(`give one token id (see "warren ${o.command} list")`);
    revokeTokenOfKind(o.dataDir, o.kind, o.label, rest[0]!);
    return 0;
  }
  return null;
}

/** `--ttl` in whole seconds (`fallback` when not given), within what a token may live. */
export function ttlSeconds(raw: string | undefined, fallback: number): number {
  const ttl = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_TTL_S) throw new UsageError(`--ttl takes whole seconds from 60 to ${MAX_TTL_S}`);
  return ttl;
}

/** The tenant named on the command line, which must exist in the tree. */
export function existingTenant(raw: string, tenantsDir: string): TenantPath {
  const tenant = parseTenantPath(raw);
  const registry = new TenantRegistry(tenantsDir, silentLogger());
  registry.loadAll();
  if (!registry.get(tenant)) throw new Error(`no tenant ${tenant} under ${tenantsDir}`);
  return tenant;
}

/** Prints every token of `kind`, one a line (or one JSON object a line); `label` names the kind ("webhook"). */
export function listTokens(dataDir: string, kind: TokenKind, label: string, json: boolean | undefined): void {
  const db = openDataReadOnly(dataDir);
  try {
    const rows = hasTable(db, 'tokens') ? new GatedStore(db).tokensOfKind(kind) : [];
    for (const t of rows) {
      const state = t.revoked_at ? `revoked ${t.revoked_at}` : Date.parse(t.expires_at) <= Date.now() ? 'expired' : `expires ${t.expires_at}`;
      if (json) process.stdout.write(JSON.stringify(t) + '\n');
      else process.stdout.write(`${t.id}  ${t.tenant}  ${t.target}  ${state}\n`);
    }
    if (!rows.length && !json) process.stdout.write(`no ${label} tokens\n`);
  } finally {
    db.close();
  }
}

/** Revokes one token of `kind` at once; a token of another kind is "no such token", so one command never ends another's. */
export function revokeTokenOfKind(dataDir: string, kind: TokenKind, label: string, id: string): void {
  const db = openWarrenDb(dataDir);
  try {
    const store = new GatedStore(db);
    const token = store.tokenById(id);
    if (!token || token.kind !== kind) throw new Error(`no ${label} token ${id}`);
    if (!store.revokeToken(parseTenantPath(token.tenant), token.id)) throw new Error(`${token.id} is already revoked`);
    process.stdout.write(`revoked ${token.id} (${token.target})\n`);
  } finally {
    db.close();
  }
}
