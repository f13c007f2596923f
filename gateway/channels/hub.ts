// The channel hub: the adapters of this warren, made from the factories (one per world that has the credential for
// a world-scoped platform, one for an installation-wide one), started after the turn loop and stopped before it. An
// adapter that fails to start does not stop warren: its status says why. The hub's view of them is written to
// DATA/channels.json for `warren channels` while warren runs (a file left by a killed warren names a dead pid).
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../core/log.js';
import type { AdapterFactory, AdapterStatus, ChannelAdapter, InboundSink } from './adapter.js';
import { worldOf } from './route-plan.js';

export interface HubDeps {
  factories: readonly AdapterFactory[];
  /** The worlds (top-level tenants) there are now. */
  worlds(): readonly string[];
  /** A world's credential for a platform (`warren channels token <world> <name>`), or null. Never logged. */
  credentialFor(world: string, name: string): string | null;
  sink: InboundSink;
  env: NodeJS.ProcessEnv;
  dataDir: string;
  log: Logger;
}

export interface AdapterReport {
  prefix: string;
  world: string | null;
  state: AdapterStatus['state'];
  error: string | null;
  since: string;
}

export function channelsStatePath(dataDir: string): string {
  return join(dataDir, 'channels.json');
}

interface Slot {
  prefix: string;
  world: string | null;
  adapter: ChannelAdapter | null;
  /** Why it could not be made or started; overrides what the adapter says. */
  failure: AdapterStatus | null;
}

export class ChannelHub {
  private readonly slots: Slot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastWritten = '';

  constructor(private readonly deps: HubDeps) {}

  async start(): Promise<void> {
    const { factories, log } = this.deps;
    for (const f of factories) {
      const worlds = f.scope === 'world' ? this.deps.worlds() : [null];
      for (const world of worlds) {
        let credential: string | null = null;
        if (world !== null) {
          credential = this.deps.credentialFor(world, f.credential ?? f.prefix);
          if (credential === null) continue; // this world has no bot for that platform
        }
        const slot: Slot = { prefix: f.prefix, world, adapter: null, failure: null };
        this.slots.push(slot);
        const adapterLog = log.child({ adapter: f.prefix, world });
        try {
          slot.adapter = f.create({ world, credential, env: this.deps.env, dataDir: this.deps.dataDir, log: adapterLog });
          await slot.adapter.start(this.deps.sink);
          adapterLog.info('channel adapter started');
        } catch (error) {
          slot.failure = { state: 'error', error: `could not start: ${(error as Error).message}`, since: new Date().toISOString() };
          adapterLog.error({ err: error }, 'channel adapter could not start; warren runs without it');
        }
      }
    }
    this.writeState();
    this.timer = setInterval(() => this.writeState(), 1000);
    this.timer.unref();
  }

  /** The adapter for a chat of a tenant: by the chat id's prefix and, for a world-scoped one, the tenant's world. */
  adapterFor(chat: string, tenant: string): ChannelAdapter | null {
    const prefix = chat.slice(0, chat.indexOf(':'));
    const slot = this.slots.find((s) => s.prefix === prefix && (s.world === null || s.world === worldOf(tenant)));
    return slot && !slot.failure ? slot.adapter : null;
  }

  reports(): AdapterReport[] {
    return this.slots.map((s) => {
      const status = s.failure ?? s.adapter?.status() ?? { state: 'error' as const, error: 'not made', since: '' };
      return { prefix: s.prefix, world: s.world, state: status.state, error: status.error, since: status.since };
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const s of this.slots) {
      if (!s.adapter) continue;
      await s.adapter.stop().catch((error: unknown) => this.deps.log.warn({ err: error, adapter: s.prefix }, 'adapter did not stop cleanly'));
    }
    rmSync(channelsStatePath(this.deps.dataDir), { force: true }); // no warren, no live adapters to show
  }

  private writeState(): void {
    const text = JSON.stringify({ pid: process.pid, adapters: this.reports() }) + '\n';
    if (text === this.lastWritten) return;
    try {
      const file = channelsStatePath(this.deps.dataDir);
      writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
      this.lastWritten = text;
    } catch (error) {
      this.deps.log.warn({ err: error }, 'could not write DATA/channels.json');
    }
  }
}
