// The host firewall crackbox keeps for its tenant networks. PURE: networks and ports in, iptables text out, so the
// whole rule set is table-tested; firewall.ts only hands it to iptables.
//
// Per instance there are two chains per address family, hooked at the top of INPUT and of DOCKER-USER (Docker
// evaluates DOCKER-USER before its own FORWARD rules; without Docker's chains, FORWARD itself):
//   CRACKBOX-<tag>-IN   a tenant bridge may reach udp/tcp <dns> and tcp <proxy> on ITS OWN gateway address, from its
//                       own subnet; every other packet from the bridge to the host is dropped (other host ports, the
//                       host's other addresses, other tenants' gateways). A gateway address is also unreachable from
//                       anywhere but its own bridge, so nothing else can speak to crackbox as that tenant.
//   CRACKBOX-<tag>-FWD  nothing is forwarded from or to a tenant bridge (no other network, no other container,
//                       no published port of another container, no internet).
// IPv6 is off: from or to a tenant bridge every IPv6 packet is dropped.
// Rules name interfaces, not just addresses: the tenant of a packet is the network it came from.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { formatCidr, toCidr } from './subnets.js';

export interface FirewallNetwork {
  tenant: string;
  /** The host-side bridge interface of the Docker network (e.g. br-0123456789ab). */
  bridge: string;
  /** IPv4 CIDR. */
  subnet: string;
  /** The host's address on the bridge, where crackbox listens. */
  gateway: string;
}

export interface FirewallPorts {
  dns: number;
  proxy: number;
}

export type Family = 'ipv4' | 'ipv6';

export interface Hook {
  /** The chain the jump goes into (INPUT, DOCKER-USER or FORWARD). */
  parent: string;
  /** Our chain. */
  target: string;
}

export interface FamilyPlan {
  family: Family;
  /** Our chains, in order. */
  chains: string[];
  /** Each chain's rules, in iptables-save form (`-A CHAIN ...`). */
  rules: string[];
  hooks: Hook[];
  /** Input for `iptables-restore --noflush`: re-declares (flushes) our chains and fills them in one transaction. */
  restore: string;
}

export interface FirewallPlan {
  ipv4: FamilyPlan;
  ipv6: FamilyPlan;
}

export const CHAIN_PREFIX = 'CRACKBOX-';
/** iptables chain names are at most 28 characters: 'CRACKBOX-' + tag + '-FWD' leaves 15 for the tag. */
const MAX_TAG = 15;
const BRIDGE = /^[A-Za-z0-9_.-]{1,15}$/;

/** The instance as it appears in chain names: itself when short and plain, else a stable hash of it. */
export function chainTag(instance: string): string {
  if (/^[A-Za-z0-9_]+$/.test(instance) && instance.length <= MAX_TAG) return instance;
  return 'h' + createHash('sha256').update(instance).digest('hex').slice(0, 12);
}

export function chainNames(instance: string): { input: string; forward: string } {
  const tag = chainTag(instance);
  return { input: `${CHAIN_PREFIX}${tag}-IN`, forward: `${CHAIN_PREFIX}${tag}-FWD` };
}

function checkPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} port ${port} is not 1-65535`);
}

/** Validates one network (its fields end up in iptables input, so nothing odd may pass). */
export function checkNetwork(n: FirewallNetwork): void {
  if (!BRIDGE.test(n.bridge)) throw new Error(`bridge name ${JSON.stringify(n.bridge)} is not a plain interface name`);
  if (!isIPv4(n.gateway)) throw new Error(`gateway ${JSON.stringify(n.gateway)} of ${n.bridge} is not an IPv4 address`);
  const subnet = toCidr(n.subnet);
  const gw = toCidr(n.gateway);
  const mask = subnet.prefix === 0 ? 0 : (0xffffffff << (32 - subnet.prefix)) >>> 0;
  if (((gw.base & mask) >>> 0) !== subnet.base) throw new Error(`gateway ${n.gateway} is not inside ${n.subnet}`);
}

/**
 * The rules in the canonical form iptables-save prints them, so the installed set can be compared line by line
 * (firewall.ts: verify). Order of options: -s -d -i -o -p -m --dport -j.
 */
function inputRules(chain: string, n: FirewallNetwork, ports: FirewallPorts): string[] {
  const subnet = formatCidr(toCidr(n.subnet));
  const from = `-A ${chain} -s ${subnet} -d ${n.gateway}/32 -i ${n.bridge}`;
  return [
    `${from} -p udp -m udp --dport ${ports.dns} -j ACCEPT`,
    `${from} -p tcp -m tcp --dport ${ports.dns} -j ACCEPT`,
    ...(ports.proxy === ports.dns ? [] : [`${from} -p tcp -m tcp --dport ${ports.proxy} -j ACCEPT`]),
    `-A ${chain} -i ${n.bridge} -j DROP`,
    `-A ${chain} -d ${n.gateway}/32 -j DROP`,
  ];
}

function forwardRules(chain: string, n: FirewallNetwork): string[] {
  return [`-A ${chain} -i ${n.bridge} -j DROP`, `-A ${chain} -o ${n.bridge} -j DROP`];
}

function restoreText(chains: string[], rules: string[]): string {
  return ['*filter', ...chains.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT', ''].join('\n');
}

export interface PlanOptions {
  /** Where the forward chain is hooked per family: DOCKER-USER when Docker manages that family's iptables. */
  forwardParent?: Partial<Record<Family, 'DOCKER-USER' | 'FORWARD'>>;
}

/** The complete rule set of one instance for these networks (sorted by bridge, so the output is stable). */
export function firewallPlan(
  instance: string,
  networks: readonly FirewallNetwork[],
  ports: FirewallPorts,
  options: PlanOptions = {},
): FirewallPlan {
  checkPort('dns', ports.dns);
  checkPort('proxy', ports.proxy);
  const sorted = [...networks].sort((a, b) => (a.bridge < b.bridge ? -1 : a.bridge > b.bridge ? 1 : 0));
  const bridges = new Set<string>();
  const gateways = new Set<string>();
  for (const n of sorted) {
    checkNetwork(n);
    if (bridges.has(n.bridge)) throw new Error(`bridge ${n.bridge} is listed twice`);
    if (gateways.has(n.gateway)) throw new Error(`gateway ${n.gateway} is listed twice`);
    bridges.add(n.bridge);
    gateways.add(n.gateway);
  }
  const { input, forward } = chainNames(instance);
  const plan = (family: Family): FamilyPlan => {
    const rules =
      family === 'ipv4'
        ? [...sorted.flatMap((n) => inputRules(input, n, ports)), ...sorted.flatMap((n) => forwardRules(forward, n))]
        : [...sorted.map((n) => `-A ${input} -i ${n.bridge} -j DROP`), ...sorted.flatMap((n) => forwardRules(forward, n))];
    const chains = [input, forward];
    const hooks: Hook[] = [
      { parent: 'INPUT', target: input },
      { parent: options.forwardParent?.[family] ?? (family === 'ipv4' ? 'DOCKER-USER' : 'FORWARD'), target: forward },
    ];
    return { family, chains, rules, hooks, restore: restoreText(chains, rules) };
  };
  return { ipv4: plan('ipv4'), ipv6: plan('ipv6') };
}

/** The hook rule as iptables-save prints it. */
export function hookRule(hook: Hook): string {
  return `-A ${hook.parent} -j ${hook.target}`;
}

const OUR_HOOK = (parent: string) => new RegExp(`^-A ${parent} -j ${CHAIN_PREFIX}[A-Za-z0-9_]+-(IN|FWD)$`);

/**
 * The plan's hooks that are not properly in place in the installed rule set (the `iptables-save -t filter` text),
 * each with why. A hook counts only if every rule above it in its parent chain is another crackbox hook: anything
 * else there (an ACCEPT inserted by other software) could let tenant traffic past our drops.
 */
export function hookProblems(plan: FamilyPlan, saved: string): { hook: Hook; problem: string }[] {
  const lines = saved.split('\n').map((l) => l.trim());
  const out: { hook: Hook; problem: string }[] = [];
  for (const hook of plan.hooks) {
    const parentRules = lines.filter((l) => l.startsWith(`-A ${hook.parent} `));
    const at = parentRules.indexOf(hookRule(hook));
    if (at < 0) {
      out.push({ hook, problem: `${plan.family}: ${hook.parent} does not jump to ${hook.target}` });
      continue;
    }
    const above = parentRules.slice(0, at).filter((l) => !OUR_HOOK(hook.parent).test(l));
    if (above.length > 0) {
      out.push({ hook, problem: `${plan.family}: ${hook.parent} has ${above.length} other rule(s) before the jump to ${hook.target}` });
    }
  }
  return out;
}

/** What is wrong with the installed rule set compared with the plan (chains, their exact rules, hooks); [] = none. */
export function planProblems(plan: FamilyPlan, saved: string): string[] {
  const lines = saved.split('\n').map((l) => l.trim());
  const problems: string[] = [];
  for (const chain of plan.chains) {
    if (!lines.some((l) => l.startsWith(`:${chain} `))) {
      problems.push(`${plan.family}: chain ${chain} is missing`);
      continue;
    }
    const have = lines.filter((l) => l.startsWith(`-A ${chain} `));
    const want = plan.rules.filter((r) => r.startsWith(`-A ${chain} `));
    if (have.length !== want.length || have.some((l, i) => l !== want[i])) {
      problems.push(`${plan.family}: chain ${chain} holds ${have.length} rule(s) that differ from the ${want.length} expected`);
    }
  }
  return [...problems, ...hookProblems(plan, saved).map((h) => h.problem)];
}

/** Our lines (chains, rules and hooks) out of an iptables-save text, for `warren crackbox status`. */
export function ourLines(instance: string, saved: string): string[] {
  const { input, forward } = chainNames(instance);
  const mine = (l: string) =>
    l.startsWith(`:${input} `) ||
    l.startsWith(`:${forward} `) ||
    l.startsWith(`-A ${input} `) ||
    l.startsWith(`-A ${forward} `) ||
    l.endsWith(` -j ${input}`) ||
    l.endsWith(` -j ${forward}`);
  return saved
    .split('\n')
    .map((l) => l.trim())
    .filter(mine);
}
