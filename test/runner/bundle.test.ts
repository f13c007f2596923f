// The runner must stand alone: the container has node and nothing else (no node_modules, read-only /opt/warren).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TurnResult } from '../../core/turn.js';
import { useGated } from '../helpers/gated.js';
import { BUNDLE_SCRIPT, runRunner, turnInput, useBuiltRunner } from './helpers.js';
import { spawnSync } from 'node:child_process';

describe('runner bundle', () => {

  const f = useGated();
  const r = useBuiltRunner();

  it('leaves nothing but node built-ins outside the one output file', () => {
    const outputs = Object.values(r.runner.meta.outputs);
    expect(outputs).toHaveLength(1);
    const external = outputs[0]!.imports.filter((i) => i.external).map((i) => i.path.replace(/^node:/, ''));
    expect(external.length).toBeGreaterThan(0);
    for (const path of external) expect(builtinModules).toContain(path);
    // The SDK and zod are inside, not required at run time.
    const inputs = Object.keys(r.runner.meta.inputs);
    expect(inputs.some((p) => p.includes('@modelcontextprotocol/sdk'))).toBe(true);
    expect(inputs.some((p) => p.includes('node_modules/zod'))).toBe(true);
    expect(readFileSync(r.runner.main, 'utf8')).not.toMatch(/\bimport\.meta\b/);
  });

  it('runs a whole turn from a folder holding only main.js', async () => {
    const alone = mkdtempSync(join(tmpdir(), 'warren-'));
    try {
      const main = join(alone, 'main.js');
      copyFileSync(r.runner.main, main);
      expect(readdirSync(alone)).toEqual(['main.js']);
      const submitted: TurnResult[] = [];
      const sock = await f.gated.openRunSocket('acme', { id: 'b1', topic: 'main', chat: null, depth: 0 }, { onSubmit: (r) => submitted.push(r) });
      try {
        const script = [{ match: '.*', calls: [{ tool: 'whoami' }], reply: 'ok {{error}}' }];
        const out = await runRunner(main, JSON.stringify(turnInput({ script })), { cwd: alone, env: { WARREN_GATED_SOCKET: sock.socketPath } });
        expect(out.code).toBe(0);
        expect(submitted).toEqual([{ status: 'ok', result: 'ok ' }]);
      } finally {
        await sock.close();
      }
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  });

  it('stays CommonJS under a package.json that says "type": "module" (the repo’s dist/ on the host)', async () => {
    const root = mkdtempSync(join(tmpdir(), 'warren-'));
    try {
      writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module' }));
      const main = join(root, 'agent', 'runner', 'main.js');
      mkdirSync(join(root, 'agent'));
      const r = spawnSync(process.execPath, [BUNDLE_SCRIPT, '--outfile', main], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(JSON.parse(readFileSync(join(root, 'agent', 'runner', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
      const out = await runRunner(main, 'not json');
      expect(out.code).toBe(2); // got as far as reading the turn: loaded as CommonJS
      expect(out.stderr).toMatch(/not valid JSON/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
