// The cluster's network: one netns per node plus a hub netns holding a bridge; every node's eth0 and the host's end
// are veth pairs plugged into that bridge. The bridge lives in its own netns so the host's firewall (the main
// dockerd's FORWARD policy, br_netfilter) never sees the cluster's traffic, and nodes get no default route: they
// reach each other and the host's address on the /24, nothing else.
import type { RunPlan } from './names.js';
import { run, tryRun } from './host.js';

export function createNetwork(plan: RunPlan): void {
  const prefix = plan.subnet.split('/')[1];
  run('ip', ['netns', 'add', plan.hubNetns]);
  run('ip', ['-n', plan.hubNetns, 'link', 'add', 'br0', 'type', 'bridge']);
  run('ip', ['-n', plan.hubNetns, 'link', 'set', 'br0', 'up']);

  run('ip', ['link', 'add', plan.hostLink, 'type', 'veth', 'peer', 'name', 'host', 'netns', plan.hubNetns]);
  run('ip', ['-n', plan.hubNetns, 'link', 'set', 'host', 'master', 'br0', 'up']);
  run('ip', ['addr', 'add', `${plan.hostAddress}/${prefix}`, 'dev', plan.hostLink]);
  run('ip', ['addr', 'add', `${plan.standInAddress}/${prefix}`, 'dev', plan.hostLink]);
  run('ip', ['link', 'set', plan.hostLink, 'up']);

  for (const node of plan.nodes) {
    run('ip', ['netns', 'add', node.netns]);
    run('ip', ['-n', plan.hubNetns, 'link', 'add', node.hubLink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
    run('ip', ['-n', plan.hubNetns, 'link', 'set', node.hubLink, 'master', 'br0', 'up']);
    run('ip', ['-n', node.netns, 'addr', 'add', `${node.address}/${prefix}`, 'dev', 'eth0']);
    run('ip', ['-n', node.netns, 'link', 'set', 'eth0', 'up']);
    run('ip', ['-n', node.netns, 'link', 'set', 'lo', 'up']);
  }
}

/** Cuts a node off the bridge (its link goes down) or plugs it back in: a network partition, not a crash. */
export function setNodeLink(plan: RunPlan, nodeName: string, up: boolean): void {
  const node = plan.nodes.find((n) => n.name === nodeName);
  if (!node) throw new Error(`no node ${nodeName} in cluster ${plan.id}`);
  run('ip', ['-n', plan.hubNetns, 'link', 'set', node.hubLink, up ? 'up' : 'down']);
}

/** Netns names on this machine. */
export function listNetns(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean);
}

/** Link names in the host's netns. */
export function listHostLinks(): string[] {
  return run('ip', ['-o', 'link', 'show'])
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1])
    .filter((name): name is string => Boolean(name));
}

/** Deletes a netns (its veth ends go with it) and a host link; either may already be gone. */
export function removeNetns(name: string): void {
  tryRun('ip', ['netns', 'del', name]);
}

export function removeHostLink(name: string): void {
  tryRun('ip', ['link', 'del', name]);
}
