// zod issues as one readable line: "script[1].calls[0].tool: expected string, received number; ...".
import type { z } from 'zod';

export function pathText(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

export function describeIssues(issues: readonly z.core.$ZodIssue[], root: string, max = 5): string {
  const parts = issues.slice(0, max).map((issue) => `${pathText(root, issue.path)}: ${issue.message}`);
  if (issues.length > max) parts.push(`(${issues.length - max} more)`);
  return parts.join('; ');
}
