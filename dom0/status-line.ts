// One live line on the terminal naming the step a command waits on ("starting the DisposableVMs (3.2 s)"), so the seconds a
// DisposableVM start or a key derivation take are not silent. Only when stderr is a terminal and plain output is not asked for
// (NO_COLOR, TERM=dumb): off a terminal nothing is drawn, so logs and scripts see only the messages. Any message or prompt
// clears the line first (output.ts and prompt.ts call hideStatusLine), and the line comes back at the next tick.
import { performance } from 'node:perf_hooks';
import { useColour } from './output-style.ts';

const TICK_MS = 250;

interface Terminal {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface StatusLineOptions {
  readonly stream?: Terminal;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => number;
}

export class StatusLine {
  private readonly stream: Terminal;
  private readonly enabled: boolean;
  private readonly now: () => number;
  private step: { text: string; since: number; expectedMs: number } | undefined;
  private drawn = false;
  private suspended = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: StatusLineOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = useColour(this.stream, options.env ?? process.env);
    this.now = options.now ?? (() => performance.now());
  }

  /** The step now waited on; `expectedMs` (when known, e.g. a key slot's cost) is shown beside the time spent. */
  show(text: string, expectedMs = 0): void {
    if (!this.enabled) return;
    this.step = { text, since: this.now(), expectedMs };
    this.draw();
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), TICK_MS);
      // A status line never keeps the process alive.
      this.timer.unref();
    }
  }

  /** Clears the line now; it is drawn again at the next tick (messages are written in between). */
  hide(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Hides the line while `work` runs (a prompt: the user types on this line). */
  async suspendDuring<T>(work: () => Promise<T>): Promise<T> {
    this.suspended++;
    this.hide();
    try {
      return await work();
    } finally {
      this.suspended--;
    }
  }

  /** The command is done (or failed): the line goes for good. */
  done(): void {
    this.step = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.hide();
  }

  /** The text drawn for the current step, for tests. */
  text(): string | undefined {
    if (!this.step) return undefined;
    const seconds = (this.now() - this.step.since) / 1000;
    const expected = this.step.expectedMs >= 100 ? ` of about ${(this.step.expectedMs / 1000).toFixed(1)} s` : '';
    return `${this.step.text} (${seconds.toFixed(1)} s${expected})`;
  }

  private draw(): void {
    const text = this.text();
    if (text === undefined || this.suspended > 0) return;
    this.stream.write(`\r${text}\x1b[K`);
    this.drawn = true;
  }
}

let current: StatusLine | undefined;

/** The process's status line on stderr (made on first use). */
export function statusLine(): StatusLine {
  current ??= new StatusLine();
  return current;
}

/** Clears the line if one is drawn, before a message is written; nothing when no status line was ever made. */
export function hideStatusLine(): void {
  current?.hide();
}

/** Runs `work` (a prompt) with the status line, if any, cleared and not redrawn until it ends. */
export function withStatusLineHidden<T>(work: () => Promise<T>): Promise<T> {
  return current ? current.suspendDuring(work) : work();
}
