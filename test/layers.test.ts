// The structure docs/architecture.md describes, held by a test: which layer may import which, who writes which
// table, and where each constant of the container layout and the tenant tree lives. Every finding names the file,
// the line and the rule it breaks.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESERVED_NAMES } from '../core/tenant-path.js';
import { ALLOWLIST_FILE, GRANTS_FILE, HOME_DIR, SKILLS_DIR, WEB_DIR } from '../core/tree/layout.js';
import { otherScriptPaths, parseSource, readSources, REPO, type SourceFile } from './helpers/sources.js';

// ---------------------------------------------------------------------------------------------------------------
// Layers

type Layer = 'core' | 'gated' | 'gateway' | 'crackbox' | 'images' | 'runner' | 'cli' | 'bench';

const RUNNER_DIR = 'images/agent/runner/';

/** The layer of a repository path; null outside every layer. */
function layerOf(path: string): Layer | null {
  if (path.startsWith(RUNNER_DIR)) return 'runner';
  const top = path.split('/')[0]!;
  return (['core', 'gated', 'gateway', 'crackbox', 'images', 'cli', 'bench'] as const).find((l) => l === top) ?? null;
}

/** Non-test .ts files that are deliberately in no layer. */
const OUTSIDE_LAYERS = new Set(['vitest.config.ts']);

/** What each layer may import besides itself. `runner` is held to RUNNER_BUNDLES instead. */
const MAY_IMPORT: Record<Exclude<Layer, 'runner'>, readonly Layer[] | 'anything'> = {
  core: [],
  gated: ['core'],
  // The image builder sits beside gated: it needs only core (the container layout), and the gateway uses it to
  // make sure the agent image exists before the first turn. It never imports the runner: it mounts its bundle.
  images: ['core'],
  gateway: ['core', 'gated', 'images'],
  crackbox: ['core', 'gated'],
  // The dispatcher and the wiring that needs both the gateway and crackbox (cli/start-warren.ts).
  cli: 'anything',
  bench: 'anything',
};

/**
 * The in-container runner is bundled into one file (scripts/bundle-runner.mjs): everything it imports, directly or
 * through what it imports, ends up inside every agent container. Only these, each on purpose.
 */
const RUNNER_BUNDLES: Record<string, string> = {
  'core/turn.ts': 'the turn contract: the runner reads TurnInput and reports TurnResult',
  'core/container.ts': 'where its socket, persona and runner file are inside the container',
  'core/tree/layout.ts': "the tenant file names the container paths are named after (through core/container.ts)",
  'core/tenant-path.ts': 'the tenant name rule core/tree/layout.ts is built on',
  'core/socket-transport.ts': 'the MCP framing on the gated socket, the same code gated serves with',
  'core/tree/frontmatter.ts': 'splits PERSONA.md into front matter and the body the claude-code harness uses',
  'core/config-error.ts': 'the error type core/tree/frontmatter.ts reports (a type only)',
  'core/suggest.ts': 'the "did you mean" of an unknown front-matter key, which core/tree/frontmatter.ts reports',
  'core/tree/skill.ts': "parses SKILL.md front matter, so the <skills> block lists exactly what `warren tenants` accepts",
  'gated/bridge.ts': 'the stdio <-> socket byte pump Claude Code launches as its MCP server (runner bridge mode)',
};
const RUNNER_PACKAGES: Record<string, string> = {
  '@modelcontextprotocol/sdk': 'the MCP client that talks to gated',
  zod: 'validates the turn on stdin and the scripted harness rules',
  'gray-matter': 'the front matter parser behind core/tree/frontmatter.ts',
};

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** The npm package a bare specifier names: "@scope/pkg/sub.js" -> "@scope/pkg". */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The repository file a relative specifier names (".js" is how ESM names a .ts source); null when none exists. */
function resolveRelative(from: string, specifier: string, exists: (path: string) => boolean): string | null {
  const target = posix.normalize(posix.join(posix.dirname(from), specifier));
  for (const candidate of [target.replace(/\.js$/, '.ts'), target, `${target}.ts`, `${target}/index.ts`]) {
    if (exists(candidate)) return candidate;
  }
  return null;
}

interface Violation {
  at: string;
  rule: string;
}

/** Every import that breaks the layering, with where it is and why. PURE (`exists` is the only question asked). */
function layerViolations(files: readonly SourceFile[], exists: (path: string) => boolean): Violation[] {
  const out: Violation[] = [];
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const file of files) {
    const from = layerOf(file.path);
    if (from === null) {
      if (!OUTSIDE_LAYERS.has(file.path)) out.push({ at: `${file.path}:1`, rule: 'every source file belongs to a layer (core, gated, gateway, crackbox, images, cli, bench)' });
      continue;
    }
    for (const ref of file.imports) {
      const at = `${file.path}:${ref.line}`;
      if (ref.specifier === null) {
        out.push({ at, rule: 'imports name their module with a string literal (otherwise the layering cannot be checked)' });
        continue;
      }
      if (ref.specifier.startsWith('#')) {
        out.push({ at, rule: `"${ref.specifier}" is a package.json subpath import, which hides the file it names; import it by a relative path` });
        continue;
      }
      if (!ref.specifier.startsWith('.')) continue; // node builtins and npm packages: the runner's are checked below
      const target = resolveRelative(file.path, ref.specifier, exists);
      if (target === null) {
        out.push({ at, rule: `"${ref.specifier}" names no source file` });
        continue;
      }
      const to = layerOf(target);
      if (to === from) continue;
      if (from === 'runner') {
        if (!(target in RUNNER_BUNDLES)) out.push({ at, rule: `the runner bundles only its allow-list; ${target} is not on it` });
        continue;
      }
      const allowed = MAY_IMPORT[from];
      if (allowed === 'anything') continue;
      if (to === null || !allowed.includes(to)) {
        const may = allowed.length > 0 ? `only ${[...allowed, from].join(', ')}` : 'nothing outside core';
        out.push({ at, rule: `${from}/ imports ${may}; ${target} is in ${to ?? 'no layer'}` });
      }
    }
  }
  // What the runner bundles through its allowed modules is held to the same lists.
  for (const path of Object.keys(RUNNER_BUNDLES)) {
    if (!exists(path)) out.push({ at: `${path}:1`, rule: 'the runner allow-list names a file that does not exist' });
    for (const ref of byPath.get(path)?.imports ?? []) {
      if (ref.specifier === null || !ref.specifier.startsWith('.')) continue;
      const target = resolveRelative(path, ref.specifier, exists);
      if (target && !(target in RUNNER_BUNDLES)) {
        out.push({ at: `${path}:${ref.line}`, rule: `bundled into the runner, so it imports only the runner allow-list; ${target} is not on it` });
      }
    }
  }
  for (const file of files) {
    if (layerOf(file.path) !== 'runner' && !(file.path in RUNNER_BUNDLES)) continue;
    for (const ref of file.imports) {
      if (ref.specifier === null || ref.specifier.startsWith('.') || BUILTINS.has(ref.specifier)) continue;
      if (!(packageOf(ref.specifier) in RUNNER_PACKAGES)) {
        out.push({ at: `${file.path}:${ref.line}`, rule: `the runner bundles only the npm packages on its list; ${packageOf(ref.specifier)} is not on it` });
      }
    }
  }
  return out;
}

const format = (vs: readonly Violation[]) => vs.map((v) => `${v.at}: ${v.rule}`);

/** Script files in a layer that are not .ts: the checks read only .ts, so such a file could import anything. PURE. */
function unreadScriptViolations(paths: readonly string[]): Violation[] {
  return paths
    .filter((p) => layerOf(p) !== null)
    .map((p) => ({ at: `${p}:1`, rule: 'sources in a layer are .ts files (the layering check reads no other kind)' }));
}

describe('the layering check', () => {
  const known = new Set(['core/a.ts', 'core/b.ts', 'gated/g.ts', 'gateway/w.ts', 'crackbox/c.ts', 'images/build.ts', 'cli/x.ts', ...Object.keys(RUNNER_BUNDLES), `${RUNNER_DIR}main.ts`]);
  const exists = (p: string) => known.has(p);
  const check = (path: string, text: string) => format(layerViolations([parseSource(path, text)], exists));

  it.each([
    ['core/a.ts', `import { x } from './b.js';`],
    ['gated/g.ts', `import type { X } from '../core/a.js';`],
    ['gateway/w.ts', `import { g } from '../gated/g.js';\nimport { b } from '../images/build.js';`],
    ['crackbox/c.ts', `export { a } from '../core/a.js';`],
    ['cli/x.ts', `const m = await import('../gateway/w.js');\nimport { c } from '../crackbox/c.js';`],
    [`${RUNNER_DIR}main.ts`, `import { z } from 'zod';\nimport { connect } from 'node:net';\nimport { TurnInput } from '../../../core/turn.js';`],
  ])('lets %s import what its layer may', (path, text) => {
    expect(check(path, text)).toEqual([]);
  });

  it.each([
    ['core/a.ts', `import { x } from '../gated/g.js';`, 'core/a.ts:1: core/ imports nothing outside core; gated/g.ts is in gated'],
    ['gated/g.ts', `\nimport { parse } from '../cli/x.js';`, 'gated/g.ts:2: gated/ imports only core, gated; cli/x.ts is in cli'],
    ['crackbox/c.ts', `import type { Egress } from '../gateway/w.js';`, 'crackbox/c.ts:1: crackbox/ imports only core, gated, crackbox; gateway/w.ts is in gateway'],
    ['gateway/w.ts', `export * from '../crackbox/c.js';`, 'gateway/w.ts:1: gateway/ imports only core, gated, images, gateway; crackbox/c.ts is in crackbox'],
    ['gateway/w.ts', `const c = await import('../crackbox/c.js');`, 'gateway/w.ts:1: gateway/ imports only core, gated, images, gateway; crackbox/c.ts is in crackbox'],
    ['gateway/w.ts', `type C = typeof import('../crackbox/c.js');`, 'gateway/w.ts:1: gateway/ imports only core, gated, images, gateway; crackbox/c.ts is in crackbox'],
    ['gateway/w.ts', `const c = await import(name);`, 'gateway/w.ts:1: imports name their module with a string literal (otherwise the layering cannot be checked)'],
    ['gateway/w.ts', `import { z } from './missing.js';`, 'gateway/w.ts:1: "./missing.js" names no source file'],
    ['images/build.ts', `import { g } from '../gated/g.js';`, 'images/build.ts:1: images/ imports only core, images; gated/g.ts is in gated'],
    [`${RUNNER_DIR}main.ts`, `import { a } from '../../../core/a.js';`, `${RUNNER_DIR}main.ts:1: the runner bundles only its allow-list; core/a.ts is not on it`],
    [`${RUNNER_DIR}main.ts`, `import pino from 'pino';`, `${RUNNER_DIR}main.ts:1: the runner bundles only the npm packages on its list; pino is not on it`],
    ['scripts/x.ts', ``, 'scripts/x.ts:1: every source file belongs to a layer (core, gated, gateway, crackbox, images, cli, bench)'],
  ])('reports %s breaking its layer: %s', (path, text, finding) => {
    expect(check(path, text)).toEqual([finding]);
  });

  it.each([
    ['gated/g.ts', `import { w } from '#gateway/w.js';`, 'gated/g.ts:1: "#gateway/w.js" is a package.json subpath import, which hides the file it names; import it by a relative path'],
    ['core/a.ts', `export * from '#x';`, 'core/a.ts:1: "#x" is a package.json subpath import, which hides the file it names; import it by a relative path'],
  ])('reports %s hiding what it imports: %s', (path, text, finding) => {
    expect(check(path, text)).toEqual([finding]);
  });

  it('reports a script in a layer that is not .ts (it is never read), and not one outside the layers', () => {
    expect(format(unreadScriptViolations(['core/shim.js', 'gated/x.mjs', 'gateway/y.cts', 'cli/z.tsx', 'scripts/bundle-runner.mjs']))).toEqual([
      'core/shim.js:1: sources in a layer are .ts files (the layering check reads no other kind)',
      'gated/x.mjs:1: sources in a layer are .ts files (the layering check reads no other kind)',
      'gateway/y.cts:1: sources in a layer are .ts files (the layering check reads no other kind)',
      'cli/z.tsx:1: sources in a layer are .ts files (the layering check reads no other kind)',
    ]);
  });

  it('follows the runner through the modules it bundles', () => {
    const turn = parseSource('core/turn.ts', `import { z } from 'zod';\nimport { a } from './a.js';\nimport pino from 'pino';`);
    expect(format(layerViolations([turn], exists))).toEqual(
      expect.arrayContaining([
        'core/turn.ts:2: bundled into the runner, so it imports only the runner allow-list; core/a.ts is not on it',
        'core/turn.ts:3: the runner bundles only the npm packages on its list; pino is not on it',
      ]),
    );
  });
});

describe('the source tree', () => {
  const sources = readSources();

  it('keeps to the layers: core <- gated <- gateway / crackbox (never each other) <- cli', () => {
    expect(sources.length).toBeGreaterThan(100);
    expect(format(layerViolations(sources, (p) => existsSync(join(REPO, p))))).toEqual([]);
  });

  it('has no script in a layer that the checks cannot read', () => {
    expect(format(unreadScriptViolations(otherScriptPaths()))).toEqual([]);
  });

  it('writes each table only from the component that owns it', () => {
    expect(format(tableWriteViolations(sources))).toEqual([]);
  });

  it('spells each container path, the agent uid and the tenant file names only in their one home', () => {
    expect(format(constantViolations(sources))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// One writer per table

/** The component whose code writes each table (reads are free). */
const TABLE_OWNER: Record<string, Layer> = {
  messages: 'gated', outbox: 'gated', delegations: 'gated', observations: 'gated', topics: 'gated', tokens: 'gated',
  routes: 'gated', audit: 'gated', vhosts: 'gated', workers: 'gated',
  runs: 'gateway', leases: 'gateway', approvals: 'gateway', run_output: 'gateway', run_output_state: 'gateway',
  users: 'gateway', memberships: 'gateway', pairings: 'gateway', paused: 'gateway',
  api_tokens: 'gateway',
  egress_log: 'crackbox',
  migrations: 'core', secrets: 'core', secrets_meta: 'core', channel_credentials: 'core',
};

/** SQL keywords are written in capitals here (the repository's style), which keeps prose ("update failed") out.
 * A schema prefix (`main.audit`, an attached database) names the same table. */
const WRITE = /\b(?:INSERT(?:\s+OR\s+[A-Z]+)?\s+INTO|REPLACE\s+INTO|DELETE\s+FROM)\s+(?:\w+\.)?["`]?(\w+)|\bUPDATE\s+(?:\w+\.)?["`]?(\w+)["`]?\s+SET\b/g;

/** Each INSERT/UPDATE/DELETE in a string of the program, with its table. PURE. */
function tableWriteViolations(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const component = file.path.startsWith(RUNNER_DIR) ? 'images' : layerOf(file.path);
    for (const s of file.strings) {
      for (const m of s.text.matchAll(WRITE)) {
        const table = (m[1] ?? m[2])!;
        const owner = TABLE_OWNER[table];
        const at = `${file.path}:${s.line}`;
        if (!owner) out.push({ at, rule: `writes table ${table}, which has no owner in TABLE_OWNER (test/layers.test.ts)` });
        else if (owner !== component) out.push({ at, rule: `writes ${table}, which only ${owner}/ writes (through its store)` });
      }
    }
  }
  return out;
}

describe('the table-writer check', () => {
  it.each([
    ['gateway/run-store.ts', "p(`UPDATE messages SET run = ? WHERE id = ?`)", 'gateway/run-store.ts:1: writes messages, which only gated/ writes (through its store)'],
    ['gateway/run-store.ts', "'INSERT INTO outbox (tenant) VALUES (?)'", 'gateway/run-store.ts:1: writes outbox, which only gated/ writes (through its store)'],
    ['gateway/run-store.ts', "`DELETE FROM topics WHERE run = ${id}`", 'gateway/run-store.ts:1: writes topics, which only gated/ writes (through its store)'],
    ['gated/store.ts', "'UPDATE runs SET status = ?'", 'gated/store.ts:1: writes runs, which only gateway/ writes (through its store)'],
    ['gated/store.ts', "'INSERT OR IGNORE INTO gizmos (a) VALUES (1)'", 'gated/store.ts:1: writes table gizmos, which has no owner in TABLE_OWNER (test/layers.test.ts)'],
  ])('reports %s writing another component\'s table: %s', (path, text, finding) => {
    expect(format(tableWriteViolations([parseSource(path, `const s = ${text};`)]))).toEqual([finding]);
  });

  it.each([
    ['gated/store.ts', "`INSERT INTO topics (tenant) VALUES (?) ON CONFLICT (tenant) DO UPDATE SET session = excluded.session`"],
    ['gateway/run-store.ts', "'SELECT id FROM messages WHERE run = ?'"],
    ['gateway/run-store.ts', "'DELETE FROM leases WHERE run = ?'"],
    ['gateway/outbox-view.ts', '// a comment may say: UPDATE messages SET run\nconst x = 1'],
    ['core/tree/watch.ts', "'tenant tree update failed'"],
  ])('lets %s write its own tables and read anything: %s', (path, text) => {
    expect(tableWriteViolations([parseSource(path, `const s = ${text};`)])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// One home per constant

interface Pinned {
  what: string;
  matches: (text: string) => boolean;
  home: string;
}

const CONTAINER_LAYOUT = 'core/container.ts';
const TREE_LAYOUT = 'core/tree/layout.ts';

const PINNED: Pinned[] = [
  ...['/home/node', '/run/gated', '/opt/warren', '/etc/warren'].map((dir) => ({
    what: `the container path ${dir}`,
    matches: (t: string) => t === dir || t.startsWith(`${dir}/`),
    home: CONTAINER_LAYOUT,
  })),
  { what: 'the agent user 1000:1000', matches: (t: string) => /^\s*1000:1000\s*$/.test(t), home: CONTAINER_LAYOUT },
  ...['PERSONA.md', 'SKILL.md', 'grants', 'allowlist', 'skills', 'home'].map((name) => ({
    what: `the tenant file name ${name}`,
    matches: (t: string) => t === name,
    home: TREE_LAYOUT,
  })),
];

/**
 * Deliberate second spellings, each with its reason. core/tenant-path.ts is the leaf every module (layout.ts too)
 * imports, so it cannot import layout.ts; the test below keeps its reserved names equal to layout.ts's file names.
 */
const SECOND_SPELLINGS: Record<string, { literals: readonly string[]; why: string }> = {
  'core/tenant-path.ts': {
    literals: ['home', 'skills', 'grants', 'allowlist'],
    why: 'RESERVED_NAMES: a tenant folder named like a tenant file or folder is never a tenant',
  },
};

/** Literals of the container layout and tenant tree outside their one home; uid/gid 1000 assigned anywhere else. */
function constantViolations(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    for (const s of file.strings) {
      for (const pin of PINNED) {
        if (pin.matches(s.text) && file.path !== pin.home && !SECOND_SPELLINGS[file.path]?.literals.includes(s.text)) {
          out.push({ at: `${file.path}:${s.line}`, rule: `${pin.what} is spelled only in ${pin.home}; import it from there` });
        }
      }
    }
  }
  return out;
}

/** `uid = 1000`, `AGENT_GID: 1000`, `{ uid: 1000 }` outside core/container.ts. */
function uidLiterals(path: string, text: string): Violation[] {
  if (path === CONTAINER_LAYOUT) return [];
  const out: Violation[] = [];
  text.split('\n').forEach((line, i) => {
    if (/\b\w*(uid|gid)\w*\s*[:=]\s*1000\b/i.test(line)) out.push({ at: `${path}:${i + 1}`, rule: `the agent uid/gid is spelled only in ${CONTAINER_LAYOUT}; import it from there` });
  });
  return out;
}

describe('one home per constant', () => {
  it.each([
    ['gateway/container-spec.ts', `const SOCKET_TARGET = '/run/gated/gated.sock';`, 'gateway/container-spec.ts:1: the container path /run/gated is spelled only in core/container.ts; import it from there'],
    ['images/rootfs.ts', 'const home = `/home/node`;', 'images/rootfs.ts:1: the container path /home/node is spelled only in core/container.ts; import it from there'],
    ['gateway/container-spec.ts', `const USER = '1000:1000';`, 'gateway/container-spec.ts:1: the agent user 1000:1000 is spelled only in core/container.ts; import it from there'],
    ['gated/tools/groups.ts', `join(dir, 'PERSONA.md');`, 'gated/tools/groups.ts:1: the tenant file name PERSONA.md is spelled only in core/tree/layout.ts; import it from there'],
    ['gated/tools/grant.ts', `join(dir, "grants");`, 'gated/tools/grant.ts:1: the tenant file name grants is spelled only in core/tree/layout.ts; import it from there'],
  ])('reports %s spelling a constant of its own: %s', (path, text, finding) => {
    expect(format(constantViolations([parseSource(path, text)]))).toEqual([finding]);
  });

  it('lets the homes spell them, and prose mention them', () => {
    const files = [
      parseSource(CONTAINER_LAYOUT, `const HOME = '/home/node';`),
      parseSource(TREE_LAYOUT, `export const GRANTS_FILE = 'grants';`),
      parseSource('gateway/home.ts', `// the home is mounted at /home/node and owned by 1000:1000\nconst x = 'a path like /home/nodes';`),
    ];
    expect(constantViolations(files)).toEqual([]);
  });

  it.each([
    ['gateway/turns.ts', 'const AGENT_OWNER = { uid: 1000, gid: 1000 };', ['gateway/turns.ts:1']],
    ['images/rootfs.ts', 'export const AGENT_UID = 1000;', ['images/rootfs.ts:1']],
    ['gateway/docker-runner.ts', 'const since = Math.floor(Date.now() / 1000) - 1;', []],
    [CONTAINER_LAYOUT, 'export const AGENT_UID = 1000;', []],
  ])('finds the agent uid/gid spelled as a number in %s: %s', (path, text, at) => {
    expect(uidLiterals(path, text).map((v) => v.at)).toEqual(at);
  });

  it('finds none of them in the tree', () => {
    const found = readSources().flatMap((f) => uidLiterals(f.path, readFileSync(join(REPO, f.path), 'utf8')));
    expect(format(found)).toEqual([]);
  });

  it("keeps core/tenant-path.ts's reserved names equal to the tenant file and folder names of core/tree/layout.ts", () => {
    expect([...RESERVED_NAMES].sort()).toEqual([ALLOWLIST_FILE, GRANTS_FILE, HOME_DIR, SKILLS_DIR, WEB_DIR].sort());
  });
});

