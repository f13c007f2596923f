// The sealed secrets table in DATA/secrets.db. One row per (tenant, name), every part of the sealed value in its own
// column. Tenant and name are stored in clear (they are not secret and scope lookups need them); values never are.
//
// The database remembers which key it is bound to (the current key of the last init/rotation) so that a wrong key is
// refused even before a row fails to open, and so that a process holding a stale keyring after a rotation cannot
// write rows that the rotated key file no longer opens.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDb, type Db, type Migration } from '../db.js';
import { tenantPathProblem, type TenantPath } from '../tenant-path.js';
import { open as openSealed, seal, type Sealed } from './crypto.js';
import { SecretsError } from './errors.js';
import { currentKey, describeSource, type Keyring } from './keyring.js';
import { secretNameProblem, secretValueProblem } from './names.js';

export const SECRETS_DB = 'secrets.db';

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'secrets-001-create',
    sql: `
      CREATE TABLE secrets (
        tenant     TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        key_id     TEXT    NOT NULL,
        nonce      BLOB    NOT NULL,
        ciphertext BLOB    NOT NULL,
        tag        BLOB    NOT NULL,
        created_at TEXT    NOT NULL,
        updated_at TEXT    NOT NULL,
        PRIMARY KEY (tenant, name)
      ) WITHOUT ROWID;
      CREATE TABLE secrets_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;`,
  },
  {
    // Channel credentials (a world's Telegram bot token): sealed with the same keys, kept in their own table so that
    // nothing that reads tenant secrets (a run's environment, `warren secrets list`) can ever see them.
    name: 'secrets-002-channel-credentials',
    sql: `
      CREATE TABLE channel_credentials (
        world      TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        version    INTEGER NOT NULL,
        key_id     TEXT    NOT NULL,
        nonce      BLOB    NOT NULL,
        ciphertext BLOB    NOT NULL,
        tag        BLOB    NOT NULL,
        created_at TEXT    NOT NULL,
        updated_at TEXT    NOT NULL,
        PRIMARY KEY (world, name)
      ) WITHOUT ROWID;`,
  },
];

/** Key ids in use by either sealed table. */
const KEY_IDS_SQL = 'SELECT key_id FROM secrets UNION SELECT key_id FROM channel_credentials ORDER BY key_id';
/** A credential is sealed for "channel:<world>": never a tenant path, so a row moved into `secrets` does not open. */
const credentialScope = (world: string): string => `channel:${world}`;

const BOUND_KEY = 'bound_key_id';

/** A keyring, or a function returning the current one (re-read on every operation, so a rotation is picked up). */
export type KeyringSource = Keyring | (() => Keyring);

/** What is known about a stored secret without opening it. */
export interface SecretInfo {
  tenant: TenantPath;
  name: string;
  keyId: string;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  tenant: string;
  name: string;
  version: number;
  key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
  created_at: string;
  updated_at: string;
}

/** What is known about a stored channel credential without opening it. */
export interface CredentialInfo {
  world: TenantPath;
  name: string;
  keyId: string;
  updatedAt: string;
}

type CredentialRow = Omit<Row, 'tenant'> & { world: string };

export interface ResealOptions {
  /** The keyring to use (default: the store's). */
  keyring?: Keyring;
  /** Test hook: called after each row is re-sealed inside the transaction (throwing rolls everything back). */
  onRow?: (index: number) => void;
}

export class SecretStore {
  private constructor(
    readonly file: string,
    private readonly db: Db,
    private readonly keys: KeyringSource,
  ) {}

  /** Opens (creating if needed) the store and checks that the keyring can open everything in it. */
  static open(file: string, keys: KeyringSource): SecretStore {
    // Key problems are reported before anything is created on disk.
    const ring = typeof keys === 'function' ? keys() : keys;
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Create the file 0600 before SQLite does; SQLite gives -wal and -shm the same mode.
    closeSync(openSync(file, 'a', 0o600));
    const db = openDb(file, MIGRATIONS);
    const store = new SecretStore(file, db, keys);
    try {
      store.check(ring);
    } catch (e) {
      db.close();
      throw e;
    }
    return store;
  }

  static inDataDir(dataDir: string, keys: KeyringSource): SecretStore {
    return SecretStore.open(join(dataDir, SECRETS_DB), keys);
  }

  /** What key ids a store file refers to, without needing any key (used by init to refuse a mismatched start). */
  static inspect(file: string): { bound: string | null; keyIds: string[] } {
    const db = openDb(file, MIGRATIONS);
    try {
      const bound = db.prepare('SELECT value FROM secrets_meta WHERE key = ?').pluck().get(BOUND_KEY) as string | undefined;
      const keyIds = db.prepare(KEY_IDS_SQL).pluck().all() as string[];
      return { bound: bound ?? null, keyIds };
    } finally {
      db.close();
    }
  }

  close(): void {
    this.db.close();
  }

  keyring(): Keyring {
    return typeof this.keys === 'function' ? this.keys() : this.keys;
  }

  /** The key id the store is bound to, or null before the first init/write. */
  boundKeyId(): string | null {
    const row = this.db.prepare('SELECT value FROM secrets_meta WHERE key = ?').get(BOUND_KEY) as { value: string } | undefined;
    return row?.value ?? null;
  }

  /** Binds an unbound store to the keyring's current key (init). A bound store must already match. */
  bind(): string {
    const ring = this.keyring();
    return this.db.transaction(() => this.usableKey(ring)).immediate();
  }

  /** Throws unless every key id the store refers to is in the keyring: the wrong-key check. */
  check(ring: Keyring = this.keyring()): void {
    const bound = this.boundKeyId();
    if (bound !== null && !ring.keys.has(bound)) throw this.wrongKey(ring, bound);
    const ids = this.db.prepare(KEY_IDS_SQL).pluck().all() as string[];
    for (const id of ids) if (!ring.keys.has(id)) throw this.wrongKey(ring, id);
  }

  /** Seals and stores a value (insert or replace). */
  set(tenant: TenantPath, name: string, value: string, now: Date = new Date()): SecretInfo {
    validate(tenant, name);
    const valueProblem = secretValueProblem(value);
    if (valueProblem) throw new SecretsError(`cannot store ${name} for ${tenant}: ${valueProblem}`);
    const ring = this.keyring();
    const at = now.toISOString();
    // IMMEDIATE: the binding check and the write happen under the write lock, so they cannot straddle a rotation.
    return this.db
      .transaction((): SecretInfo => {
        const keyId = this.usableKey(ring);
        const s = seal(currentKey(ring).key, keyId, tenant, name, value);
        this.db
          .prepare(
            `INSERT INTO secrets (tenant, name, version, key_id, nonce, ciphertext, tag, created_at, updated_at)
             VALUES (@tenant, @name, @version, @key_id, @nonce, @ciphertext, @tag, @at, @at)
             ON CONFLICT (tenant, name) DO UPDATE SET version = excluded.version, key_id = excluded.key_id,
               nonce = excluded.nonce, ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at`,
          )
          .run({ tenant, name, version: s.version, key_id: s.keyId, nonce: s.nonce, ciphertext: s.ciphertext, tag: s.tag, at });
        const info = this.db
          .prepare('SELECT tenant, name, key_id, created_at, updated_at FROM secrets WHERE tenant = ? AND name = ?')
          .get(tenant, name) as Row;
        return toInfo(info);
      })
      .immediate();
  }

  /** The opened value, or undefined when there is none. Throws if it exists but cannot be opened. */
  get(tenant: TenantPath, name: string): string | undefined {
    const row = this.db.prepare('SELECT * FROM secrets WHERE tenant = ? AND name = ?').get(tenant, name) as Row | undefined;
    return row ? this.openRow(row, this.keyring()) : undefined;
  }

  /** Deletes a secret; false when there was none. */
  remove(tenant: TenantPath, name: string): boolean {
    return this.db.prepare('DELETE FROM secrets WHERE tenant = ? AND name = ?').run(tenant, name).changes > 0;
  }

  /** Stored secrets (never values), of one tenant or of all, ordered by tenant then name. */
  list(tenant?: TenantPath): SecretInfo[] {
    const rows = (
      tenant === undefined
        ? this.db.prepare('SELECT tenant, name, key_id, created_at, updated_at FROM secrets ORDER BY tenant, name').all()
        : this.db.prepare('SELECT tenant, name, key_id, created_at, updated_at FROM secrets WHERE tenant = ? ORDER BY name').all(tenant)
    ) as Row[];
    return rows.map(toInfo);
  }

  /** Seals and stores a world's channel credential (insert or replace). Never part of any tenant's secrets. */
  setCredential(world: TenantPath, name: string, value: string, now: Date = new Date()): CredentialInfo {
    validateCredential(world, name);
    const valueProblem = secretValueProblem(value);
    if (valueProblem) throw new SecretsError(`cannot store the ${name} credential of ${world}: ${valueProblem}`);
    const ring = this.keyring();
    const at = now.toISOString();
    return this.db
      .transaction((): CredentialInfo => {
        const keyId = this.usableKey(ring);
        const s = seal(currentKey(ring).key, keyId, credentialScope(world), name, value);
        this.db
          .prepare(
            `INSERT INTO channel_credentials (world, name, version, key_id, nonce, ciphertext, tag, created_at, updated_at)
             VALUES (@world, @name, @version, @key_id, @nonce, @ciphertext, @tag, @at, @at)
             ON CONFLICT (world, name) DO UPDATE SET version = excluded.version, key_id = excluded.key_id,
               nonce = excluded.nonce, ciphertext = excluded.ciphertext, tag = excluded.tag, updated_at = excluded.updated_at`,
          )
          .run({ world, name, version: s.version, key_id: s.keyId, nonce: s.nonce, ciphertext: s.ciphertext, tag: s.tag, at });
        return this.listCredentials(world).find((c) => c.name === name)!;
      })
      .immediate();
  }

  /** A world's opened credential, or undefined. Throws if it exists but cannot be opened. */
  getCredential(world: TenantPath, name: string): string | undefined {
    const row = this.db.prepare('SELECT * FROM channel_credentials WHERE world = ? AND name = ?').get(world, name) as CredentialRow | undefined;
    return row ? this.openRow({ ...row, tenant: credentialScope(row.world) }, this.keyring()) : undefined;
  }

  removeCredential(world: TenantPath, name: string): boolean {
    return this.db.prepare('DELETE FROM channel_credentials WHERE world = ? AND name = ?').run(world, name).changes > 0;
  }

  /** Stored channel credentials (never values), of one world or of all. */
  listCredentials(world?: TenantPath): CredentialInfo[] {
    const cols = 'SELECT world, name, key_id, updated_at FROM channel_credentials';
    const rows = (
      world === undefined
        ? this.db.prepare(`${cols} ORDER BY world, name`).all()
        : this.db.prepare(`${cols} WHERE world = ? ORDER BY name`).all(world)
    ) as CredentialRow[];
    return rows.map((r) => ({ world: r.world, name: r.name, keyId: r.key_id, updatedAt: r.updated_at }));
  }

  /**
   * Re-seals every row under the keyring's current key and binds the store to it, in ONE transaction: either every
   * row moves or none does. Returns how many rows were re-sealed.
   */
  reseal(opts: ResealOptions = {}): number {
    const ring = opts.keyring ?? this.keyring();
    const target = currentKey(ring);
    return this.db
      .transaction((): number => {
        this.check(ring);
        const rows = this.db.prepare('SELECT * FROM secrets ORDER BY tenant, name').all() as Row[];
        const update = this.db.prepare(
          'UPDATE secrets SET version = ?, key_id = ?, nonce = ?, ciphertext = ?, tag = ? WHERE tenant = ? AND name = ?',
        );
        rows.forEach((row, i) => {
          const s = seal(target.key, target.id, row.tenant, row.name, this.openRow(row, ring));
          update.run(s.version, s.keyId, s.nonce, s.ciphertext, s.tag, row.tenant, row.name);
          opts.onRow?.(i);
        });
        const creds = this.db.prepare('SELECT * FROM channel_credentials ORDER BY world, name').all() as CredentialRow[];
        const updateCred = this.db.prepare(
          'UPDATE channel_credentials SET version = ?, key_id = ?, nonce = ?, ciphertext = ?, tag = ? WHERE world = ? AND name = ?',
        );
        creds.forEach((row, i) => {
          const scope = credentialScope(row.world);
          const s = seal(target.key, target.id, scope, row.name, this.openRow({ ...row, tenant: scope }, ring));
          updateCred.run(s.version, s.keyId, s.nonce, s.ciphertext, s.tag, row.world, row.name);
          opts.onRow?.(rows.length + i);
        });
        this.setBound(target.id);
        return rows.length + creds.length;
      })
      .immediate();
  }

  /**
   * Runs `fn` holding the database write lock (BEGIN IMMEDIATE), so no other warren process writes, binds or rotates
   * meanwhile. Rotation does its key file writes under it. Throwing rolls back the database part.
   */
  exclusive<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** Key ids the rows are sealed under, with counts (for `rotate` and diagnostics). */
  keyUsage(): Map<string, number> {
    const rows = this.db
      .prepare('SELECT key_id, COUNT(*) AS n FROM (SELECT key_id FROM secrets UNION ALL SELECT key_id FROM channel_credentials) GROUP BY key_id')
      .all() as { key_id: string; n: number }[];
    return new Map(rows.map((r) => [r.key_id, r.n]));
  }

  private openRow(row: Row, ring: Keyring): string {
    const entry = ring.keys.get(row.key_id);
    if (!entry) throw this.wrongKey(ring, row.key_id);
    const sealed: Sealed = { version: row.version, keyId: row.key_id, nonce: row.nonce, ciphertext: row.ciphertext, tag: row.tag };
    return openSealed(entry.key, row.tenant, row.name, sealed);
  }

  /** The key id to seal with now; binds an unbound store. Must run inside a write transaction. */
  private usableKey(ring: Keyring): string {
    this.check(ring);
    if (this.boundKeyId() === null) this.setBound(ring.current);
    // A bound id different from ring.current is a rotation in progress; both keys are in the ring (checked above).
    return currentKey(ring).id;
  }

  private setBound(keyId: string): void {
    this.db
      .prepare('INSERT INTO secrets_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(BOUND_KEY, keyId);
  }

  private wrongKey(ring: Keyring, needed: string): SecretsError {
    const have = [...ring.keys.keys()].join(', ');
    return new SecretsError(
      `wrong secrets key: ${this.file} needs key ${needed}, but ${describeSource(ring.source)} holds ${have}. ` +
        `Use the key file this store was sealed with (restore it from backup). If that key is lost, so are the ` +
        `secrets: move ${this.file} aside and run "warren secrets init" to start over`,
    );
  }
}

function validate(tenant: string, name: string): void {
  const tp = tenantPathProblem(tenant);
  if (tp) throw new SecretsError(`invalid tenant "${tenant}": ${tp}`);
  const np = secretNameProblem(name);
  if (np) throw new SecretsError(np);
}

const CREDENTIAL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

function validateCredential(world: string, name: string): void {
  const tp = tenantPathProblem(world);
  if (tp || world === 'root' || world.includes('/')) throw new SecretsError(`invalid world "${world}": ${tp ?? 'a world is a top-level tenant'}`);
  if (!CREDENTIAL_NAME.test(name)) throw new SecretsError(`invalid credential name "${name}" (lower-case, like telegram)`);
}

function toInfo(r: Pick<Row, 'tenant' | 'name' | 'key_id' | 'created_at' | 'updated_at'>): SecretInfo {
  return { tenant: r.tenant, name: r.name, keyId: r.key_id, createdAt: r.created_at, updatedAt: r.updated_at };
}
