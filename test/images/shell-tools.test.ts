import { describe, expect, it, afterEach } from 'vitest';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHELL_TOOL_PACKAGES, mergeTree, parsePrintUris } from '../../images/shell-tools.js';

const SHA = 'a'.repeat(64);

describe('parsePrintUris', () => {
  it.each<[string, string, Array<{ file: string; size: number }>]>([
    ['one line', `'http://deb.debian.org/debian/pool/main/b/bash/bash_5.2.15-2%2bb13_amd64.deb' bash_5.2.15-2+b13_amd64.deb 1490652 SHA256:${SHA}\n`, [{ file: 'bash_5.2.15-2+b13_amd64.deb', size: 1490652 }]],
    ['an epoch in the name, blank lines', `\n'http://x/git.deb' git_1%3a2.39.5-0+deb12u3_amd64.deb 7264380 SHA256:${SHA}\n\n`, [{ file: 'git_1%3a2.39.5-0+deb12u3_amd64.deb', size: 7264380 }]],
    ['nothing', '', []],
  ])('%s', (_name, text, expected) => {
    expect(parsePrintUris(text).map(({ file, size }) => ({ file, size }))).toEqual(expected);
  });

  it.each([
    ['an apt error line', 'E: Unable to locate package bsah'],
    ['a file name with a slash', `'http://x/a.deb' ../a.deb 1 SHA256:${SHA}`],
    ['an MD5 instead of a SHA-256', `'http://x/a.deb' a.deb 1 MD5Sum:${'a'.repeat(32)}`],
  ])('refuses %s', (_name, text) => {
    expect(() => parsePrintUris(text)).toThrow(/unexpected/);
  });
});

describe('mergeTree', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('merges through the rootfs links, keeps hard links, strips setuid, skips docs and finds the ELF files', () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
    const staging = join(dir, 'staging');
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('usr/bin', join(root, 'bin')); // a merged-/usr rootfs
    mkdirSync(join(staging, 'bin'), { recursive: true });
    mkdirSync(join(staging, 'usr/lib/git-core'), { recursive: true });
    mkdirSync(join(staging, 'usr/share/doc/git'), { recursive: true });
    writeFileSync(join(staging, 'bin/dash'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(8)]), { mode: 0o4755 });
    symlinkSync('dash', join(staging, 'bin/sh'));
    writeFileSync(join(staging, 'usr/lib/git-core/git'), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(8)]), { mode: 0o755 });
    linkSync(join(staging, 'usr/lib/git-core/git'), join(staging, 'usr/lib/git-core/git-status'));
    writeFileSync(join(staging, 'usr/lib/git-core/git-sh-setup'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(staging, 'usr/share/doc/git/README'), 'docs');

    const { elves } = mergeTree(staging, root);

    expect(lstatSync(join(root, 'bin')).isSymbolicLink()).toBe(true); // still merged
    expect(existsSync(join(root, 'usr/bin/dash'))).toBe(true);
    expect(statSync(join(root, 'usr/bin/dash')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(root, 'usr/bin/sh'))).toBe('dash');
    expect(statSync(join(root, 'usr/lib/git-core/git-status')).ino).toBe(statSync(join(root, 'usr/lib/git-core/git')).ino);
    expect(readFileSync(join(root, 'usr/lib/git-core/git-sh-setup'), 'utf8')).toBe('#!/bin/sh\n');
    expect(existsSync(join(root, 'usr/share/doc'))).toBe(false);
    expect(elves.map((e) => e.slice(staging.length)).sort()).toEqual(['/bin/dash', '/usr/lib/git-core/git']);
  });
});

describe('the Dockerfile route', () => {
  it('installs the same shell tools as the offline route', () => {
    const dockerfile = readFileSync(fileURLToPath(new URL('../../images/agent/Dockerfile', import.meta.url)), 'utf8');
    const line = /apt-get install -y --no-install-recommends ca-certificates \\\n\s+(.*) \\/.exec(dockerfile);
    expect(line?.[1]?.split(/\s+/).sort()).toEqual([...SHELL_TOOL_PACKAGES].sort());
    expect(dockerfile).toMatch(/SHELL=\/bin\/bash/);
  });
});
