import { describe, it, expect } from 'vitest';
import { ResolvedAddressBook, clampTtl } from '../../crackbox/address-book.js';
import { addressesFor } from '../../crackbox/resolver.js';

describe('ResolvedAddressBook', () => {
  it('remembers per tenant and name until the clamped TTL expires', () => {
    let now = 1_000_000;
    const book = new ResolvedAddressBook({ minTtlSeconds: 10, maxTtlSeconds: 300 }, 100, () => now);
    book.record('acme', 'a.example', [{ address: '1.1.1.1', ttl: 0 }, { address: '2.2.2.2', ttl: 3600 }]);
    expect(book.lookup('acme', 'a.example')).toEqual(['1.1.1.1', '2.2.2.2']);
    expect(book.lookup('other', 'a.example')).toEqual([]);
    expect(book.lookup('acme', 'b.example')).toEqual([]);
    now += 10_000; // TTL 0 was raised to 10 s
    expect(book.lookup('acme', 'a.example')).toEqual(['2.2.2.2']);
    now += 290_000; // TTL 3600 was capped at 300 s
    expect(book.lookup('acme', 'a.example')).toEqual([]);
    expect(book.size).toBe(0);
  });

  it('forgets the oldest names beyond its bound', () => {
    const book = new ResolvedAddressBook(undefined, 3);
    for (const n of ['a', 'b', 'c', 'd']) book.record('t', n, [{ address: '1.1.1.1', ttl: 60 }]);
    expect(book.size).toBe(3);
    expect(book.lookup('t', 'a')).toEqual([]);
    expect(book.lookup('t', 'd')).toEqual(['1.1.1.1']);
  });

  it('clampTtl handles missing and odd values', () => {
    expect(clampTtl(undefined)).toBe(10);
    expect(clampTtl(Number.NaN)).toBe(10);
    expect(clampTtl(42.9)).toBe(42);
    expect(clampTtl(1e9)).toBe(300);
  });
});

describe('addressesFor', () => {
  it('follows the CNAME chain from the asked name and ignores unrelated records', () => {
    const answers = [
      { type: 'CNAME', name: 'www.example', data: 'edge.cdn.example', ttl: 60 },
      { type: 'CNAME', name: 'edge.cdn.example', data: 'pop1.cdn.example', ttl: 60 },
      { type: 'A', name: 'pop1.cdn.example', data: '1.2.3.4', ttl: 20 },
      { type: 'A', name: 'unrelated.example', data: '6.6.6.6', ttl: 20 },
    ] as const;
    expect(addressesFor('WWW.example', answers as never)).toEqual([{ address: '1.2.3.4', ttl: 20 }]);
  });

  it('survives a CNAME loop', () => {
    const answers = [
      { type: 'CNAME', name: 'a.example', data: 'b.example' },
      { type: 'CNAME', name: 'b.example', data: 'a.example' },
    ];
    expect(addressesFor('a.example', answers as never)).toEqual([]);
  });
});
