// The CLI's adapter (`local:` chats): `warren chat` and `warren send` reach the gateway over its HTTP API and follow
// the outbox there, so a local row is delivered by being recorded as delivered.
import type { AdapterFactory, AdapterStatus, ChannelAdapter, DeliveryOutcome } from './adapter.js';

export function localAdapter(): ChannelAdapter {
  let status: AdapterStatus = { state: 'stopped', error: null, since: new Date().toISOString() };
  return {
    identity: { prefix: 'local', world: null },
    async start() {
      status = { state: 'connected', error: null, since: new Date().toISOString() };
    },
    async deliver(): Promise<DeliveryOutcome> {
      return { ok: true, platformMessageId: null };
    },
    status: () => status,
    async stop() {
      status = { state: 'stopped', error: null, since: new Date().toISOString() };
    },
  };
}

export const localAdapterFactory: AdapterFactory = {
  prefix: 'local',
  scope: 'installation',
  create: () => localAdapter(),
};
