// `warren crackbox status`: this instance's tenant networks (from Docker), what the running crackbox listens on (its
// status file), and the firewall rules as installed (iptables-save), with a check of them against the plan.
// gatherStatus does the I/O; formatStatus is PURE.
import type Docker from 'dockerode';
import type { EgressConfig } from './egress-config.js';
import type { Family } from './firewall-rules.js';
import { Firewall, type CommandRunner } from './firewall.js';
import { TenantNetworks, type TenantNetwork } from './networks.js';
import { processAlive, readStatusFile, type CrackboxStatus } from './status-file.js';

export interface StatusView {
  instance: string;
  /** The status file of a live crackbox, or null (not running). */
  running: CrackboxStatus | null;
  /** A status file left by a crackbox that is gone. */
  stale: boolean;
  networks: (TenantNetwork & { containers: number; listening: boolean })[];
  unusable: string[];
  rules: Record<Family, string[]>;
  /** Problems of the installed rules compared with the plan for the networks (only checked while running). */
  ruleProblems: string[];
}

export async function gatherStatus(options: {
  docker: Docker;
  instance: string;
  config: EgressConfig;
  dataDir: string;
  run?: CommandRunner;
}): Promise<StatusView> {
  const file = readStatusFile(options.dataDir);
  const running = file && file.instance === options.instance && processAlive(file.pid) ? file : null;
  const { networks, problems } = await new TenantNetworks(options.docker, options.instance, options.config).list();
  const withUse = await Promise.all(
    networks.map(async (n) => {
      const info = await options.docker.getNetwork(n.id).inspect().catch(() => null);
      const listening = !!running?.listeners.some((l) => l.tenant === n.tenant && l.gateway === n.gateway);
      return { ...n, containers: Object.keys(info?.Containers ?? {}).length, listening };
    }),
  );
  const ports = running ? { dns: running.dnsPort, proxy: running.proxyPort } : { dns: options.config.dnsPort, proxy: options.config.proxyPort };
  const firewall = new Firewall(options.instance, ports, { run: options.run });
  const rules = await firewall.show();
  const ruleProblems = running ? await firewall.verify(networks) : [];
  return {
    instance: options.instance,
    running,
    stale: !!file && !running,
    networks: withUse.sort((a, b) => (a.tenant < b.tenant ? -1 : 1)),
    unusable: problems,
    rules,
    ruleProblems,
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => '  ' + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

export function formatStatus(v: StatusView): string {
  const out: string[] = [];
  if (v.running) {
    const r = v.running;
    out.push(`crackbox ${v.instance}: running (pid ${r.pid}, since ${r.startedAt}); DNS port ${r.dnsPort}, proxy port ${r.proxyPort}, upstream ${r.upstream}`);
  } else {
    out.push(`crackbox ${v.instance}: not running${v.stale ? ' (a stale status file was left behind)' : ''}`);
  }
  out.push('');
  if (v.networks.length === 0) out.push('networks: none yet (one is created the first time a tenant runs)');
  else {
    out.push('networks:');
    out.push(
      ...table([
        ['TENANT', 'NETWORK', 'SUBNET', 'GATEWAY', 'BRIDGE', 'LISTENING', 'CONTAINERS'],
        ...v.networks.map((n) => [n.tenant, n.name, n.subnet, n.gateway, n.bridge, n.listening ? 'dns+proxy' : 'no', String(n.containers)]),
      ]),
    );
  }
  for (const u of v.unusable) out.push(`  unusable: ${u}`);
  for (const family of ['ipv4', 'ipv6'] as const) {
    out.push('');
    const lines = v.rules[family];
    out.push(`firewall (${family}):${lines.length === 0 ? ' no rules' : ''}`);
    for (const l of lines) out.push(`  ${l}`);
  }
  out.push('');
  if (!v.running) {
    const any = v.rules.ipv4.length + v.rules.ipv6.length > 0;
    out.push(any ? 'firewall check: crackbox is not running but rules are installed (left by a crash? they still confine)' : 'firewall check: no rules (crackbox is not running)');
  } else if (v.ruleProblems.length === 0) {
    out.push('firewall check: ok (installed rules match the plan for every network)');
  } else {
    out.push(`firewall check: ${v.ruleProblems.length} problem(s)`);
    for (const p of v.ruleProblems) out.push(`  ${p}`);
  }
  return out.join('\n') + '\n';
}
