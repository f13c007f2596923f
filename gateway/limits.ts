// Resource limits of an agent container: what PERSONA.md asks for (`limits:` in its frontmatter), bounded by the
// operator. Pure: the caller decides what to do with the warnings (log them, show them in `warren tenants`).

export const LIMIT_FIELDS = ['memory_mb', 'cpus', 'pids', 'timeout_s'] as const;
export type LimitField = (typeof LIMIT_FIELDS)[number];

/** The PERSONA.md `limits:` block as written: any subset, values not yet trusted. */
export type PersonaLimits = Partial<Record<LimitField, unknown>> & Record<string, unknown>;

export interface ResolvedLimits {
  /** Memory cap in MiB; swap is disabled (MemorySwap = Memory). */
  memory_mb: number;
  /** CPU share, fractional allowed (0.5 = half a core). */
  cpus: number;
  /** Maximum processes and threads in the container. */
  pids: number;
  /** Wall-clock limit for one run, in seconds. */
  timeout_s: number;
}

export const DEFAULT_LIMITS: ResolvedLimits = { memory_mb: 1024, cpus: 1, pids: 256, timeout_s: 600 };
export const DEFAULT_MAXIMA: ResolvedLimits = { memory_mb: 4096, cpus: 2, pids: 1024, timeout_s: 3600 };
/** Below these a container cannot do anything useful (node alone needs tens of MiB and a handful of threads). */
export const MINIMA: ResolvedLimits = { memory_mb: 32, cpus: 0.05, pids: 16, timeout_s: 1 };

const INTEGER: Record<LimitField, boolean> = { memory_mb: true, cpus: false, pids: true, timeout_s: true };

export interface LimitsResult {
  limits: ResolvedLimits;
  warnings: string[];
}

function usable(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * Requested limits, with every missing or unusable value taken from the defaults, everything above the operator's
 * maxima clamped down, and everything below the minima raised. Each adjustment is a warning naming the field.
 * Bad defaults or maxima are the operator's mistake; they are bounded the same way rather than trusted.
 */
export function resolveLimits(
  requested: PersonaLimits | undefined,
  defaults: ResolvedLimits = DEFAULT_LIMITS,
  maxima: ResolvedLimits = DEFAULT_MAXIMA,
): LimitsResult {
  const warnings: string[] = [];
  const limits = { ...DEFAULT_LIMITS };
  const req: Record<string, unknown> =
    requested !== undefined && requested !== null && typeof requested === 'object' && !Array.isArray(requested)
      ? requested
      : {};
  if (requested !== undefined && req !== requested) warnings.push('limits: expected a mapping of limits; using defaults');

  for (const key of Object.keys(req)) {
    if (!(LIMIT_FIELDS as readonly string[]).includes(key)) {
      warnings.push(`limits.${key}: unknown limit, ignored (known: ${LIMIT_FIELDS.join(', ')})`);
    }
  }

  for (const field of LIMIT_FIELDS) {
    const max = usable(maxima[field]) ? maxima[field] : DEFAULT_MAXIMA[field];
    let fallback = usable(defaults[field]) ? defaults[field] : DEFAULT_LIMITS[field];
    if (fallback > max) fallback = max;

    let value: number;
    const asked = req[field];
    if (asked === undefined) {
      value = fallback;
    } else if (!usable(asked)) {
      warnings.push(`limits.${field}: ${JSON.stringify(asked)} is not a positive number; using ${fallback}`);
      value = fallback;
    } else if (asked > max) {
      warnings.push(`limits.${field}: ${asked} is above the operator maximum ${max}; clamped to ${max}`);
      value = max;
    } else {
      value = asked;
    }

    if (INTEGER[field] && !Number.isInteger(value)) {
      const whole = Math.floor(value);
      warnings.push(`limits.${field}: ${value} is not a whole number; using ${whole}`);
      value = whole;
    }
    // The operator's maximum wins over our minimum: a bound the operator set is never exceeded.
    const floor = Math.min(MINIMA[field], max);
    if (value < floor) {
      warnings.push(`limits.${field}: ${value} is below the minimum ${floor}; raised to ${floor}`);
      value = floor;
    }
    limits[field] = value;
  }
  return { limits, warnings };
}
