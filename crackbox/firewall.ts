// Hands the planned rule set (firewall-rules.ts) to iptables and checks it is really there. Thin on purpose: every
// decision about which rules exist is in the pure plan. Chain contents are replaced atomically with
// `iptables-restore --noflush` (one transaction: a running container is never without rules while they change);
// hooks are inserted with `-I` only when missing or when something else sits above them.
import { spawn } from 'node:child_process';
import { silentLogger, type Logger } from '../core/log.js';
import {
  firewallPlan,
  hookProblems,
  ourLines,
  planProblems,
  chainNames,
  type Family,
  type FamilyPlan,
  type FirewallNetwork,
  type FirewallPlan,
  type FirewallPorts,
} from './firewall-rules.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (no shell) with optional stdin. Never rejects for a non-zero exit; rejects if it cannot start. */
export type CommandRunner = (command: string, args: string[], input?: string) => Promise<CommandResult>;

export const runCommand: CommandRunner = (command, args, input) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });

const TOOLS: Record<Family, { cmd: string; save: string; restore: string }> = {
  ipv4: { cmd: 'iptables', save: 'iptables-save', restore: 'iptables-restore' },
  ipv6: { cmd: 'ip6tables', save: 'ip6tables-save', restore: 'ip6tables-restore' },
};

export class FirewallError extends Error {}

export class Firewall {
  private readonly run: CommandRunner;
  private readonly log: Logger;

  constructor(
    readonly instance: string,
    readonly ports: FirewallPorts,
    options: { run?: CommandRunner; log?: Logger } = {},
  ) {
    this.run = options.run ?? runCommand;
    this.log = options.log ?? silentLogger();
  }

  private async exec(command: string, args: string[], input?: string): Promise<CommandResult> {
    try {
      return await this.run(command, args, input);
    } catch (error) {
      throw new FirewallError(`cannot run ${command} (${(error as Error).message}); crackbox needs iptables and ip6tables`);
    }
  }

  /** The filter table as iptables-save prints it. */
  async saved(family: Family): Promise<string> {
    const r = await this.exec(TOOLS[family].save, ['-t', 'filter']);
    if (r.code !== 0) throw new FirewallError(`${TOOLS[family].save} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  }

  /** The plan for these networks, hooking the forward chain into DOCKER-USER where Docker has one. */
  async plan(networks: readonly FirewallNetwork[]): Promise<{ plan: FirewallPlan; saved: Record<Family, string> }> {
    const saved = { ipv4: await this.saved('ipv4'), ipv6: await this.saved('ipv6') };
    const parent = (s: string) => (/^:DOCKER-USER /m.test(s) ? ('DOCKER-USER' as const) : ('FORWARD' as const));
    const plan = firewallPlan(this.instance, networks, this.ports, {
      forwardParent: { ipv4: parent(saved.ipv4), ipv6: parent(saved.ipv6) },
    });
    return { plan, saved };
  }

  /** Problems with the installed rules for these networks ([] = exactly as planned). */
  async verify(networks: readonly FirewallNetwork[]): Promise<string[]> {
    const { plan, saved } = await this.plan(networks);
    return [...planProblems(plan.ipv4, saved.ipv4), ...planProblems(plan.ipv6, saved.ipv6)];
  }

  /**
   * Installs the rule set for exactly these networks (replacing this instance's previous set) and checks the result.
   * Throws FirewallError when iptables refuses or the installed rules do not match: the caller must then not start
   * containers on these networks.
   */
  async apply(networks: readonly FirewallNetwork[]): Promise<void> {
    const { plan, saved } = await this.plan(networks);
    for (const family of ['ipv4', 'ipv6'] as const) {
      await this.applyFamily(plan[family], saved[family]);
    }
    const problems = await this.verify(networks);
    if (problems.length > 0) throw new FirewallError(`firewall rules did not take: ${problems.join('; ')}`);
    this.log.info({ networks: networks.length }, 'firewall rules installed');
  }

  private async applyFamily(plan: FamilyPlan, saved: string): Promise<void> {
    const { cmd, restore } = TOOLS[plan.family];
    const r = await this.exec(restore, ['-w', '--noflush'], plan.restore);
    if (r.code !== 0) throw new FirewallError(`${restore} refused the rules: ${r.stderr.trim() || `exit ${r.code}`}`);
    // Chains first, hooks second: a hook never points at a chain that is not filled yet.
    for (const { hook } of hookProblems(plan, saved)) {
      // A duplicate jump is harmless (our chain decides the same way twice); a missing one is not. So insert at the
      // top and never delete by position (another process may be inserting too).
      const ins = await this.exec(cmd, ['-w', '-I', hook.parent, '1', '-j', hook.target]);
      if (ins.code !== 0) throw new FirewallError(`${cmd} could not hook ${hook.target} into ${hook.parent}: ${ins.stderr.trim()}`);
    }
  }

  /** Removes this instance's hooks and chains (both families). Missing pieces are not errors. */
  async remove(): Promise<void> {
    const { input, forward } = chainNames(this.instance);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const { cmd } = TOOLS[family];
      const saved = await this.saved(family);
      const hooks = saved
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('-A ') && (l.endsWith(` -j ${input}`) || l.endsWith(` -j ${forward}`)));
      for (const line of hooks) {
        const [, parent, , target] = line.split(' ');
        await this.exec(cmd, ['-w', '-D', parent!, '-j', target!]);
      }
      for (const chain of [input, forward]) {
        if (!new RegExp(`^:${chain} `, 'm').test(saved)) continue;
        await this.exec(cmd, ['-w', '-F', chain]);
        const x = await this.exec(cmd, ['-w', '-X', chain]);
        if (x.code !== 0) this.log.warn({ chain, family, stderr: x.stderr.trim() }, 'could not delete chain');
      }
    }
    this.log.info('firewall rules removed');
  }

  /** This instance's installed lines per family (for `warren crackbox status`). */
  async show(): Promise<Record<Family, string[]>> {
    return {
      ipv4: ourLines(this.instance, await this.saved('ipv4')),
      ipv6: ourLines(this.instance, await this.saved('ipv6')),
    };
  }
}
