import { workersRoot } from '../../gateway/workers.js';
import { describe, expect, it } from 'vitest';
import { gatewayConfig } from '../../gateway/config.js';

describe('gatewayConfig: WARREN_RUNTIME', () => {
  it.each([
    [undefined, 'docker'],
    ['', 'docker'],
    ['docker', 'docker'],
    ['swarm', 'swarm'],
  ])('%j -> %s', (value, runtime) => {
    expect(gatewayConfig('/srv/warren/data', value === undefined ? {} : { WARREN_RUNTIME: value }).runtime).toBe(runtime);
  });

  // An operator who asked for a cluster never gets turns run on this host without being told.
  it.each(['Swarm', 'kubernetes', 'swarm '])('refuses %j', (value) => {
    expect(() => gatewayConfig('/srv/warren/data', { WARREN_RUNTIME: value })).toThrow(/WARREN_RUNTIME must be "docker" or "swarm"/);
  });
});

describe('gatewayConfig: WARREN_WORKERS_DIR, and where workers’ folders go', () => {
  const data = '/srv/warren/data';
  const rootOf = (env: NodeJS.ProcessEnv) => workersRoot(gatewayConfig(data, env), data);

  it('DATA/workers on local Docker unless set; the folder set, on either runtime', () => {
    expect(rootOf({})).toEqual({ root: '/srv/warren/data/workers' });
    expect(rootOf({ WARREN_WORKERS_DIR: '/shared/warren-workers' })).toEqual({ root: '/shared/warren-workers' });
    expect(rootOf({ WARREN_RUNTIME: 'swarm', WARREN_WORKERS_DIR: '/shared/warren-workers' })).toEqual({ root: '/shared/warren-workers' });
  });

  it('on Swarm without it, a worker has nowhere every node reaches: the reason, never DATA on the manager', () => {
    expect(rootOf({ WARREN_RUNTIME: 'swarm' })).toEqual({ problem: expect.stringMatching(/need WARREN_WORKERS_DIR: a folder on the shared filesystem/) });
  });

  it('refuses a relative folder', () => {
    expect(() => gatewayConfig(data, { WARREN_WORKERS_DIR: 'workers' })).toThrow(/WARREN_WORKERS_DIR must be an absolute path, got "workers"/);
  });
});
