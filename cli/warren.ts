#!/usr/bin/env node
// The `warren` command: finds the subcommand and hands it the common options. Subcommands are loaded lazily so that
// `warren connect` (launched by MCP clients for every session) starts fast.
import { COMMON_USAGE, UsageError, commonFrom, type Command } from '../core/command.js';
import { COMMANDS } from './commands.js';

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `warren: host many AI agents on one host, safely.

Usage: warren <command> [options]

Commands:
${lines.join('\n')}

${COMMON_USAGE}
Run "warren <command> --help" for a command's own options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n');
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`warren: unknown command "${name}"\n\n${mainHelp()}\n`);
    return 2;
  }
  const command: Command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n\n' + COMMON_USAGE + '\n');
    return 0;
  }
  try {
    return await command.run(rest, commonFrom(peekCommon(rest)));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`warren ${name}: ${error.message}\n\n${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`warren ${name}: ${(error as Error).message}\n`);
    return 1;
  }
}

/** Reads --tenants/--data wherever they appear, leaving the command's own options for the command. */
function peekCommon(argv: string[]): { tenants?: string; data?: string } {
  const out: { tenants?: string; data?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    for (const key of ['tenants', 'data'] as const) {
      if (a === `--${key}`) out[key] = argv[++i];
      else if (a.startsWith(`--${key}=`)) out[key] = a.slice(key.length + 3);
    }
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`warren: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
