import { describe, it, expect } from 'vitest';
import { DEFAULT_LIMITS, DEFAULT_MAXIMA, resolveLimits, type ResolvedLimits } from '../../gateway/limits.js';

const defaults: ResolvedLimits = { memory_mb: 512, cpus: 1, pids: 128, timeout_s: 300 };
const maxima: ResolvedLimits = { memory_mb: 2048, cpus: 2, pids: 512, timeout_s: 1800 };

describe('resolveLimits', () => {
  it.each<[string, unknown, Partial<ResolvedLimits>, RegExp[]]>([
    ['nothing asked: the defaults', undefined, defaults, []],
    ['an empty mapping: the defaults', {}, defaults, []],
    ['within maxima: as asked', { memory_mb: 1024, cpus: 0.5, pids: 64, timeout_s: 60 }, { memory_mb: 1024, cpus: 0.5, pids: 64, timeout_s: 60 }, []],
    ['exactly the maxima: as asked', { ...maxima }, maxima, []],
    ['memory above the maximum: clamped', { memory_mb: 99999 }, { memory_mb: 2048 }, [/^limits\.memory_mb: 99999 is above the operator maximum 2048/]],
    ['cpus above: clamped', { cpus: 8 }, { cpus: 2 }, [/^limits\.cpus: .*maximum 2/]],
    ['pids above: clamped', { pids: 100000 }, { pids: 512 }, [/^limits\.pids:/]],
    ['timeout above: clamped', { timeout_s: 86400 }, { timeout_s: 1800 }, [/^limits\.timeout_s:/]],
    ['a string: the default', { memory_mb: '4g' }, { memory_mb: 512 }, [/^limits\.memory_mb: "4g" is not a positive number; using 512/]],
    ['negative: the default', { pids: -1 }, { pids: 128 }, [/^limits\.pids: -1 is not a positive number/]],
    ['zero: the default', { timeout_s: 0 }, { timeout_s: 300 }, [/^limits\.timeout_s: 0/]],
    ['infinity: the default', { cpus: Infinity }, { cpus: 1 }, [/^limits\.cpus:/]],
    ['fractional memory: rounded down', { memory_mb: 100.7 }, { memory_mb: 100 }, [/^limits\.memory_mb: 100\.7 is not a whole number/]],
    ['below the minimum: raised', { memory_mb: 4 }, { memory_mb: 32 }, [/^limits\.memory_mb: 4 is below the minimum 32/]],
    ['unknown keys: ignored with a warning', { gpus: 1 }, defaults, [/^limits\.gpus: unknown limit/]],
    ['not a mapping: defaults with a warning', ['memory_mb', 1], defaults, [/expected a mapping/]],
    ['null: defaults with a warning', null, defaults, [/expected a mapping/]],
  ])('%s', (_name, requested, expected, warnings) => {
    const result = resolveLimits(requested as never, defaults, maxima);
    expect(result.limits).toEqual({ ...defaults, ...expected });
    expect(result.warnings).toHaveLength(warnings.length);
    warnings.forEach((w, i) => expect(result.warnings[i]).toMatch(w));
  });

  it('never returns a value above the maxima, whatever the defaults say', () => {
    const high: ResolvedLimits = { memory_mb: 1e6, cpus: 64, pids: 1e6, timeout_s: 1e6 };
    const { limits } = resolveLimits(undefined, high, maxima);
    expect(limits).toEqual(maxima);
  });

  it('the operator maximum wins over the built-in minimum', () => {
    const tiny: ResolvedLimits = { memory_mb: 16, cpus: 0.01, pids: 8, timeout_s: 1 };
    const { limits } = resolveLimits({ memory_mb: 1 }, tiny, tiny);
    expect(limits.memory_mb).toBe(16);
    expect(limits.cpus).toBe(0.01);
  });

  it('has sane built-in defaults within the built-in maxima', () => {
    const { limits, warnings } = resolveLimits(undefined);
    expect(limits).toEqual(DEFAULT_LIMITS);
    expect(warnings).toEqual([]);
    for (const k of Object.keys(DEFAULT_LIMITS) as (keyof ResolvedLimits)[]) expect(DEFAULT_LIMITS[k]).toBeLessThanOrEqual(DEFAULT_MAXIMA[k]);
  });
});
