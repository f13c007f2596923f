// What a harness needs from gated to act: call a tool by name and get its text back, denial or not.
export interface ToolOutcome {
  text: string;
  /** True for denials and failed calls (the tool result's isError). */
  isError: boolean;
}

export interface ToolCaller {
  call(tool: string, args: Record<string, unknown>): Promise<ToolOutcome>;
}

/** A tool gated offers this run (already filtered by the tenant's grants). */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

/** What a harness that offers tools to a model needs: the list as well as the call. */
export interface ToolLister {
  list(): Promise<ToolSpec[]>;
}

/** The text parts of an MCP tool result, one per line; other content kinds are named, not dropped silently. */
export function toolResultText(result: unknown): string {
  const content = (result as { content?: unknown } | null)?.content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: { type?: unknown; text?: unknown }) =>
      part && part.type === 'text' && typeof part.text === 'string' ? part.text : `[${String(part?.type ?? 'unknown')} content]`,
    )
    .join('\n');
}
