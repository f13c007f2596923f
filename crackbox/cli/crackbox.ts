// `warren crackbox`: run crackbox alone, show its state, or prune this instance's unused tenant networks.
import Docker from 'dockerode';
import { parse, untilSignal, UsageError, type Command, type CommonOptions } from '../../core/command.js';
import { componentLogger, logger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { watchTree } from '../../core/tree/watch.js';
import { instanceName } from '../../core/instance.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { egressConfig, type EgressConfig } from '../egress-config.js';
import { Crackbox } from '../crackbox.js';
import { TenantNetworks } from '../networks.js';
import { processAlive, readStatusFile } from '../status-file.js';
import { formatStatus, gatherStatus } from '../status.js';

const USAGE = `Usage: warren crackbox run | status [--json] | prune

  run     Run crackbox alone, in the foreground, for the tenant tree: a network, a DNS server and a proxy for every
          tenant, and the host firewall rules confining them. For "warren up" with WARREN_EGRESS=external (by
          default "warren up" runs crackbox itself). Stops on SIGINT/SIGTERM and removes its firewall rules.
  status  This instance's tenant networks, what crackbox listens on, and the firewall rules as installed, checked
          against what they should be. --json for the raw view.
  prune   Remove this instance's tenant networks that no container uses (crackbox must not be running).

The instance is the one "warren up" uses for the same --data (or WARREN_INSTANCE). Settings: WARREN_EGRESS_* (see
docs/egress.md). run needs root (iptables, port 53).`;

async function docker(): Promise<Docker> {
  const d = new Docker();
  try {
    await d.ping();
  } catch (error) {
    throw new Error(`Docker is not reachable (${(error as Error).message})`);
  }
  return d;
}

/** The instance and egress settings of `warren up` for the same --data: crackbox must agree with it on both. */
function settings(common: CommonOptions): { instance: string; egress: EgressConfig } {
  return { instance: instanceName(common.data), egress: egressConfig() };
}

async function run(common: CommonOptions): Promise<number> {
  const config = settings(common);
  const log = logger('crackbox');
  const registry = new TenantRegistry(common.tenants, componentLogger(log, 'tree'));
  registry.loadAll();
  const watcher = await watchTree(registry);
  const db = openWarrenDb(common.data);
  const crackbox = await Crackbox.start({ instance: config.instance, config: config.egress, docker: await docker(), registry, db, dataDir: common.data, log });
  // Every tenant with a valid configuration gets its network up front: warren up (external mode) only checks.
  const serve = (tenant: string) => {
    if (!registry.config(tenant)) return;
    crackbox.egressFor(tenant).catch((err: Error) => log.error({ err, tenant }, 'could not set up egress for a tenant'));
  };
  for (const s of registry.list()) serve(s.path);
  registry.on('changed', serve);
  // Re-checks (and repairs) the rules now and then: in external mode nobody else can.
  const timer = setInterval(() => crackbox.listeners().forEach((n) => serve(n.tenant)), 30_000);
  process.stderr.write(`crackbox ${config.instance} is running (DNS port ${crackbox.dns.port}, proxy port ${crackbox.proxy.port})\n`);
  await untilSignal();
  clearInterval(timer);
  registry.off('changed', serve);
  await watcher.close();
  await crackbox.stop();
  db.close();
  return 0;
}

async function prune(common: CommonOptions): Promise<number> {
  const config = settings(common);
  const status = readStatusFile(common.data);
  if (status && status.instance === config.instance && processAlive(status.pid)) {
    throw new Error(`crackbox is running (pid ${status.pid}); stop it first`);
  }
  const d = await docker();
  const networks = new TenantNetworks(d, config.instance, config.egress);
  for (const n of (await networks.list()).networks) {
    const info = await d.getNetwork(n.id).inspect();
    if (Object.keys(info.Containers ?? {}).length > 0) {
      process.stdout.write(`kept    ${n.name} (containers attached)\n`);
      continue;
    }
    await networks.remove(n);
    process.stdout.write(`removed ${n.name}\n`);
  }
  return 0;
}

const command: Command = {
  summary: 'run crackbox (egress networks, DNS, proxy, firewall) alone, or show its status',
  usage: USAGE,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
    const [sub, ...rest] = positionals;
    if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest[0]}`);
    switch (sub) {
      case 'run':
        return run(common);
      case 'status': {
        const config = settings(common);
        const view = await gatherStatus({ docker: await docker(), instance: config.instance, config: config.egress, dataDir: common.data });
        process.stdout.write(values.json ? JSON.stringify(view, null, 2) + '\n' : formatStatus(view));
        return 0;
      }
      case 'prune':
        return prune(common);
      default:
        throw new UsageError(sub === undefined ? 'expected: run, status or prune' : `unknown subcommand: ${sub}`);
    }
  },
};

export default command;
