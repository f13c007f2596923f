// A channel adapter held in memory: the stand-in for a platform in channel tests. It records what it delivers,
// can be taken down and brought back, and can be told how to answer the next deliveries.
import type {
  AdapterFactory, AdapterIdentity, AdapterStatus, ChannelAdapter, DeliveryOutcome, InboundEvent, InboundOutcome, InboundSink, OutboundItem,
} from '../../../gateway/channels/adapter.js';

export class MemoryAdapter implements ChannelAdapter {
  readonly delivered: OutboundItem[] = [];
  /** Every attempt, delivered or not, in order. */
  readonly attempts: { item: OutboundItem; at: number }[] = [];
  /** Answers for the next deliveries, used first to last; when empty, deliveries succeed. */
  readonly script: DeliveryOutcome[] = [];
  private sink: InboundSink | null = null;
  private state: AdapterStatus = { state: 'stopped', error: null, since: new Date().toISOString() };
  private nextId = 1000;
  /** A delivery waits for this before answering (a platform that is slow, or a crash in the middle). */
  hold: Promise<void> | null = null;

  constructor(readonly identity: AdapterIdentity) {}

  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.state = { state: 'connected', error: null, since: new Date().toISOString() };
  }

  async deliver(item: OutboundItem): Promise<DeliveryOutcome> {
    this.attempts.push({ item, at: Date.now() });
    if (this.hold) await this.hold;
    const answer = this.script.shift() ?? { ok: true, platformMessageId: String(this.nextId++) };
    if (answer.ok) this.delivered.push(item);
    return answer;
  }

  status(): AdapterStatus {
    return this.state;
  }

  async stop(): Promise<void> {
    this.state = { state: 'stopped', error: null, since: new Date().toISOString() };
  }

  down(why: string): void {
    this.state = { state: 'error', error: why, since: new Date().toISOString() };
  }

  up(): void {
    this.state = { state: 'connected', error: null, since: new Date().toISOString() };
  }

  /** A message arriving from the platform. */
  receive(event: Partial<InboundEvent> & { chat: string; text: string }): Promise<InboundOutcome> {
    if (!this.sink) throw new Error('not started');
    return this.sink.receive(
      { thread: null, sender: { id: `${this.identity.prefix}:1`, name: 'Ann' }, platformMessageId: null, replyTo: null, direct: false,
        mentioned: false, command: null, ...event },
      this.identity,
    );
  }
}

/** A factory handing out MemoryAdapters; `made` keeps them so the test can drive them. */
export function memoryFactory(prefix: string, scope: 'world' | 'installation' = 'installation') {
  const made: MemoryAdapter[] = [];
  const factory: AdapterFactory = {
    prefix,
    scope,
    credential: scope === 'world' ? 'memory' : undefined,
    create: (ctx) => {
      const a = new MemoryAdapter({ prefix, world: ctx.world });
      made.push(a);
      return a;
    },
  };
  return { factory, made };
}
