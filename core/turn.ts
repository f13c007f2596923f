// The contract between the gateway and the in-container agent runner: what a turn looks like on the runner's stdin,
// and what the runner reports back to gated with the `warren/submit_turn` request on its run socket. It is a
// protocol method, not a tool: agents never see it in tools/list and cannot call it through the grant-checked path.
import { z } from 'zod';

export const SUBMIT_TURN_METHOD = 'warren/submit_turn';
/**
 * A coordinator's runner (TurnInput.coordinator) asks for its next turn with this request once it has submitted one;
 * gated holds it open until a turn is there or the coordinator is to stop (idle). Also a protocol method, not a tool.
 */
export const NEXT_TURN_METHOD = 'warren/next_turn';
/** How long the runner lets a `warren/next_turn` request stay open: well past any idle timeout an operator sets. */
export const NEXT_TURN_WAIT_MS = 7 * 24 * 3600 * 1000;
export const TURN_VERSION = 1;
export const MAX_RESULT_CHARS = 64 * 1024;
/**
 * A harness session id (Claude Code's are UUIDs). It ends up on the next turn's command line, and an agent reports
 * it, so it is held to a strict shape: it can never start with "-" or carry anything a command line would read.
 */
export const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$/;
const sessionId = z.string().regex(SESSION_ID, 'a session id is letters, digits and "_.:-", starting with a letter or digit');

export const TurnMessageSchema = z.object({
  id: z.number().int(),
  kind: z.enum(['chat', 'delegation', 'escalation', 'result']),
  sender: z.string(),
  chat: z.string().nullable(),
  text: z.string(),
  at: z.string(),
});
export type TurnMessage = z.infer<typeof TurnMessageSchema>;

/**
 * Where a run reaches gated when it cannot use a unix socket (a task on another node): gated's HTTPS endpoint, the
 * run's bearer token and the CA the runner pins (PEM). It comes in the turn input (stdin or a per-run secret file),
 * never in a service spec or the container's environment.
 */
export const GatedEndpointSchema = z
  .object({
    url: z.string().url().refine((u) => u.startsWith('https://'), 'the gated endpoint must be an https:// URL'),
    token: z.string().min(1),
    ca: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'ca must be a PEM certificate' }),
  })
  .strict();
export type GatedEndpoint = z.infer<typeof GatedEndpointSchema>;

export const TurnInputSchema = z.object({
  version: z.literal(TURN_VERSION),
  tenant: z.string(),
  run: z.string(),
  topic: z.string(),
  /** Harness session state of this topic to resume (e.g. a Claude Code session id), if any. */
  session: sessionId.nullable(),
  /**
   * Resume `session` as a new session of this topic's own (a topic fork_topic made, on its first turn): the harness
   * reports the new id, so the parent's session is never appended to.
   */
  forkSession: z.boolean().optional(),
  harness: z.enum(['script', 'claude-code', 'openai']),
  model: z.string().nullable(),
  /** The scripted harness's rules (PERSONA.md frontmatter `script:`), validated by the harness. */
  script: z.unknown().optional(),
  messages: z.array(TurnMessageSchema).min(1),
  /** Secrets for this run: set in the harness's environment in memory, never written to a file. */
  env: z.record(z.string(), z.string()).default({}),
  /** Set for a coordinator (PERSONA.md `always_on: true`): after this turn, ask for the next with warren/next_turn. */
  coordinator: z.boolean().optional(),
  /** Reach gated over HTTPS instead of the run socket (GatedEndpointSchema). */
  gated: GatedEndpointSchema.optional(),
});
export type TurnInput = z.infer<typeof TurnInputSchema>;

export const TurnResultSchema = z.object({
  status: z.enum(['ok', 'error']),
  result: z.string().max(MAX_RESULT_CHARS),
  /** Session state to resume next time on this topic. */
  session: sessionId.nullable().optional(),
});
export type TurnResult = z.infer<typeof TurnResultSchema>;

export const SubmitTurnRequestSchema = z.object({
  method: z.literal(SUBMIT_TURN_METHOD),
  params: TurnResultSchema,
});

export const NextTurnRequestSchema = z.object({
  method: z.literal(NEXT_TURN_METHOD),
  params: z.object({}).passthrough().optional(),
});

/** The answer to `warren/next_turn`: the next turn, or `stop` (the runner exits 0). */
export const NextTurnResultSchema = z.union([z.object({ turn: TurnInputSchema }), z.object({ stop: z.literal(true) })]);
export type NextTurnResult = z.infer<typeof NextTurnResultSchema>;
