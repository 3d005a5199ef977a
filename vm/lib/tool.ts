// Runs one of the device VM's tools (dmsetup, blockdev, sync): bytes on stdin, output captured (capped), a time limit.
// node:child_process rather than execa here: these one-shot calls need nothing more, and leaving execa and its dependencies
// (about 210 KiB) out of every device service's bundle takes roughly a third off its start-up (bench: cold_start_ms).
// dom0, whose Qubes adapter needs execa's cancellation and stream handling, keeps it.
import { spawn } from 'node:child_process';

export interface ToolResult {
  /** undefined when the tool could not be started or was killed. */
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** More than any answer these tools give; a runaway tool cannot fill memory. */
const OUTPUT_CAP_BYTES = 64 * 1024;

function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: Buffer[] = [];
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    if (bytes >= OUTPUT_CAP_BYTES) return;
    chunks.push(chunk.subarray(0, OUTPUT_CAP_BYTES - bytes));
    bytes += chunk.length;
  });
  return () => Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Runs `command` with `input` on stdin (the caller zeroes it afterwards when it is secret); never rejects. */
export function runTool(command: string, args: readonly string[], options: { readonly input?: Uint8Array; readonly timeoutMs: number }): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const settle = (exitCode: number | undefined, spawnError?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ exitCode, stdout: stdout(), stderr: spawnError ? `${command}: ${spawnError.message}` : stderr(), timedOut });
    };
    // A tool that exits without reading its stdin makes the write fail with EPIPE: its exit code tells what happened.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? Buffer.alloc(0));
    child.on('error', (error) => settle(undefined, error));
    child.on('close', (code) => settle(code ?? undefined));
  });
}
