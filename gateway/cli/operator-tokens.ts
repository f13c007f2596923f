// Listing and revoking the tokens the operator issues from the CLI (`warren hooks`, `warren chatlinks`): one kind at
// a time, never showing a secret (only hashes are stored).
import { hasTable, openDataReadOnly } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import type { TokenKind } from '../../gated/tools/tokens.js';

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
