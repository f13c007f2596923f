// `warren up`: gated, the gateway and crackbox together, in the foreground, on embedded defaults. In cli/ because it
// wires the gateway and crackbox together (cli/start-warren.ts).
import { parse, untilSignal, type Command } from '../core/command.js';
import { startWarren } from './start-warren.js';

const command: Command = {
  summary: 'run gated and the gateway together (the main job)',
  usage: `Usage: warren up [--tenants DIR] [--data DIR]

Starts gated (one socket per tenant) and the gateway (queue, containers, HTTP API on 127.0.0.1:7380), builds the
agent image offline if it is missing, and runs until SIGINT/SIGTERM. Settings: see docs/gateway.md.`,
  async run(argv, common) {
    parse(argv, {}, false);
    const warren = await startWarren({ tenantsDir: common.tenants, dataDir: common.data });
    process.stderr.write(`warren is up: ${warren.gated.sockets().size} tenant socket(s), API ${warren.url ?? 'off'}\n`);
    const link = warren.loginLink();
    if (link) process.stderr.write(`dashboard: ${warren.url}/\none-time login link (single use, valid 5 minutes): ${link}\n`);
    const example = warren.gated.registry.list().find((t) => t.config && t.path !== 'root')?.path;
    if (example) process.stderr.write(`try: npx warren chat ${example}   (or: npx warren send ${example} "hello")\n`);
    await untilSignal();
    await warren.stop();
    return 0;
  },
};
export default command;
