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
