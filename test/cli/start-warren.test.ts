// warren up's egress by runtime (cli/start-warren.ts): with WARREN_RUNTIME=swarm it is crackbox on every node of the
// swarm, never the local crackbox (whose bridge networks no Swarm task can join). Real Docker: the machine's daemon,
// which is not a swarm manager.
import { describe, expect, it } from 'vitest';
import { egressFor, startWarren } from '../../cli/start-warren.js';
import { egressConfig } from '../../crackbox/egress-config.js';
import { silentLogger } from '../../core/log.js';
import { agentImage, requireDocker } from '../helpers/docker.js';
import { tempTree } from '../helpers/tree.js';

describe('startWarren: egress for the runtime', () => {
  it('WARREN_RUNTIME=swarm starts the Swarm egress, which needs a manager: this daemon is none, so warren up stops', async () => {
    const docker = await requireDocker();
    const tree = tempTree({ 'acme/PERSONA.md': '---\nname: acme\n---\nacme\n' });
    try {
      const start = startWarren({
        tenantsDir: tree.tenants,
        dataDir: tree.data,
        log: silentLogger(),
        docker,
        http: false,
        env: {
          WARREN_RUNTIME: 'swarm',
          WARREN_GATED_HTTP: '127.0.0.1:0',
          WARREN_AGENT_IMAGE: (await agentImage()).tag,
          WARREN_CRACKBOX_IMAGE: 'warren/crackbox:never-pulled',
          WARREN_INSTANCE: `test-sw-${process.pid}`,
          WARREN_EGRESS_UPSTREAM: '127.0.0.1:53',
        },
      });
      await expect(start).rejects.toThrow(/the Swarm egress could not start \(the Swarm egress needs a Swarm manager/);
    } finally {
      tree.cleanup();
    }
  }, 60_000);

  it('WARREN_EGRESS=external is refused with the Swarm runtime; off gives no egress; local Docker keeps the local one', () => {
    const env = { WARREN_EGRESS_UPSTREAM: '127.0.0.1:53' };
    const external = egressConfig({ ...env, WARREN_EGRESS: 'external', WARREN_EGRESS_EXTERNAL: '1' });
    expect(() => egressFor(external, true, {})).toThrow(/WARREN_EGRESS=external is not supported with WARREN_RUNTIME=swarm/);
    expect(egressFor(egressConfig({ ...env, WARREN_EGRESS: 'off' }), true, {})).toBeUndefined();
    expect(typeof egressFor(egressConfig({ ...env, WARREN_EGRESS: 'on' }), false, {})).toBe('function');
  });
});
