#!/usr/bin/env node
// The `warren` command: finds the subcommand and hands it the common options. Subcommands are loaded lazily so that
// `warren connect` (launched by MCP clients for every session) starts fast.
import { readFileSync } from 'node:fs';
import { InvalidTenantPathError } from '../core/tenant-path.js';
import { COMMON_USAGE, UsageError, commonFrom, type Command } from '../core/command.js';
import { COMMANDS } from './commands.js';

/** The version in package.json (two folders up from dist/cli/warren.js). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// A reader that stops early (`warren audit | head -1`) is not an error: stop writing and exit quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});

function mainHelp(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `warren: host many AI agents on one host, safely.

Usage: warren <command> [options]

Commands:
${lines.join('\n')}

${COMMON_USAGE}
Run "warren <command> --help" for a command's own options; "warren --version" prints the version.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`warren ${version()}\n`);
    return 0;
  }
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
    if (error instanceof UsageError || error instanceof InvalidTenantPathError) {
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
