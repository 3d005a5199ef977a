// The time limits of this run as the configuration sets them. main() sets them once before the command runs; the adapter
// (qubes.ts) and the service calls (service-call.ts) read them, so no command can start a VM or call a service unbounded.
// A limit left undefined falls back to the per-call default (TIMEOUTS in qubes.ts, the reply timeout of service-call.ts).

export interface TimeLimits {
  /** START_TIMEOUT_S: how long one `qvm-start` may take. */
  readonly startMs?: number;
  /** REPLY_TIMEOUT_S: how long a service may stay silent while dom0 waits for its next message, or for its end. */
  readonly replyMs?: number;
  /** TOOL_TIMEOUT_S: how long any other `qvm-*` call may take (create, kill, remove, block, queries). */
  readonly toolMs?: number;
}

let current: TimeLimits = {};

/** Sets the limits for the rest of this process. */
export function setTimeLimits(limits: TimeLimits): void {
  current = { ...limits };
}

/** The limits in force. */
export function timeLimits(): TimeLimits {
  return current;
}
