// The adapters `warren up` starts, one factory per platform. Adding a platform: one file implementing ChannelAdapter
// (adapter.ts) and its factory listed here.
import type { AdapterFactory } from './adapter.js';
import { localAdapterFactory } from './local.js';
import { telegram } from './telegram.js';

export const ADAPTER_FACTORIES: readonly AdapterFactory[] = [localAdapterFactory, telegram];
