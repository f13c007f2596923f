import { describe, it, expect, afterEach } from 'vitest';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGE_DIRS, IMAGE_NODE, assembleRootfs, mirrorHostPath, parseLdd } from '../../images/rootfs.js';

const LDD = `	linux-vdso.so.1 (0x00007ffd1c5f2000)
	libdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f4b177dc000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f4b1721e000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f4b177f4000)
`;

describe('parseLdd', () => {
  it.each<[string, string, string[]]>([
    ['libraries and the loader, vdso skipped', LDD, ['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']],
    ['a static binary', '\tstatically linked\n', []],
    ['duplicates once', `${LDD}\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x1)\n`, ['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']],
  ])('%s', (_name, input, expected) => {
    expect(parseLdd(input)).toEqual(expected);
  });
  it.each([
    ['a missing library', '\tlibfoo.so.1 => not found\n', /missing library/],
    ['an unknown line', '\tsomething odd\n', /unexpected line/],
  ])('throws on %s', (_name, input, error) => {
    expect(() => parseLdd(input)).toThrow(error);
  });
});

describe('mirrorHostPath', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('recreates symlinked directories and files on the way (merged /usr layout)', () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
    const host = join(dir, 'host');
    mkdirSync(join(host, 'usr/lib/arch'), { recursive: true });
    symlinkSync('usr/lib', join(host, 'lib')); // like /lib -> usr/lib
    writeFileSync(join(host, 'usr/lib/arch/ld.so'), 'loader', { mode: 0o755 });
    mkdirSync(join(host, 'lib64'));
    symlinkSync(join(host, 'lib/arch/ld.so'), join(host, 'lib64/ld.so')); // absolute, through the lib link
    const root = join(dir, 'root');
    mkdirSync(root);

    const bytes = mirrorHostPath(root, join(host, 'lib64/ld.so'));

    expect(bytes).toBe('loader'.length);
    expect(readlinkSync(join(root, host, 'lib64/ld.so'))).toBe(join(host, 'lib/arch/ld.so'));
    expect(readlinkSync(join(root, host, 'lib'))).toBe('usr/lib');
    expect(readFileSync(join(root, host, 'usr/lib/arch/ld.so'), 'utf8')).toBe('loader');
    expect(statSync(join(root, host, 'usr/lib/arch/ld.so')).mode & 0o777).toBe(0o755);
    // a second copy of the same path is a no-op
    expect(mirrorHostPath(root, join(host, 'lib64/ld.so'))).toBe(0);
  });

  it('refuses relative paths and non-files', () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
    expect(() => mirrorHostPath(dir, 'relative/path')).toThrow(/absolute/);
    expect(() => mirrorHostPath(join(dir, 'r'), dir)).toThrow(/not a regular file/);
  });
});

describe('assembleRootfs (this host)', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('holds node, its loader, the fixed directories and a node user with uid 1000', () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-'));
    const bytes = assembleRootfs(dir);
    expect(bytes).toBeGreaterThan(statSync(process.execPath).size);
    expect(statSync(join(dir, IMAGE_NODE)).size).toBe(statSync(process.execPath).size);
    for (const d of IMAGE_DIRS) expect(statSync(join(dir, d.path)).mode & 0o7777).toBe(d.mode);
    expect(readFileSync(join(dir, 'etc/passwd'), 'utf8')).toMatch(/^node:x:1000:1000:.*:\/home\/node:/m);
    expect(readFileSync(join(dir, 'etc/group'), 'utf8')).toMatch(/^node:x:1000:$/m);
    // the ELF interpreter named in the node binary is present (as a file or a link into the rootfs)
    const interp = readFileSync(process.execPath).subarray(0, 4096).toString('latin1').match(/\/lib[^\0]*ld-linux[^\0]*/)?.[0];
    expect(interp).toBeDefined();
    expect(lstatSync(join(dir, interp!)).isFile() || lstatSync(join(dir, interp!)).isSymbolicLink()).toBe(true);
    // and no setuid bit anywhere we copied
    expect(statSync(join(dir, IMAGE_NODE)).mode & 0o6000).toBe(0);
  });
});
