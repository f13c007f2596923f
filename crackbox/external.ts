// `WARREN_EGRESS=external`: crackbox runs as its own process (`warren crackbox run`) and `warren up` only checks, per
// turn, that it has done its work for the tenant — it is alive, it serves the tenant's network, and the firewall rules
// of this instance are installed exactly. Anything missing throws, so the turn fails rather than run unconfined.
import type Docker from 'dockerode';
import type { TenantPath } from '../core/tenant-path.js';
import type { Egress } from '../core/egress.js';
import { proxyEnv } from './crackbox.js';
import type { EgressConfig } from './egress-config.js';
import { Firewall, type CommandRunner } from './firewall.js';
import { TenantNetworks } from './networks.js';
import { processAlive, readStatusFile } from './status-file.js';

export interface ExternalEgressOptions {
  docker: Docker;
  instance: string;
  config: EgressConfig;
  dataDir: string;
  run?: CommandRunner;
}

export function externalEgress(options: ExternalEgressOptions): (tenant: TenantPath) => Promise<Egress> {
  const networks = new TenantNetworks(options.docker, options.instance, options.config);
  return async (tenant) => {
    const status = readStatusFile(options.dataDir);
    if (!status || status.instance !== options.instance || !processAlive(status.pid)) {
      throw new Error(`crackbox is not running for instance ${options.instance}; start "warren crackbox run" with the same --data`);
    }
    const net = await networks.find(tenant);
    const served = net && status.listeners.find((l) => l.tenant === tenant && l.gateway === net.gateway && l.bridge === net.bridge);
    if (!net || !served) throw new Error(`crackbox does not serve a network for tenant ${tenant} (yet)`);
    const firewall = new Firewall(options.instance, { dns: status.dnsPort, proxy: status.proxyPort }, { run: options.run });
    const problems = await firewall.verify((await networks.list()).networks);
    if (problems.length > 0) throw new Error(`crackbox's firewall rules are not in place: ${problems.join('; ')}`);
    return { network: net.name, dns: [net.gateway], env: proxyEnv(net.gateway, status.proxyPort) };
  };
}
