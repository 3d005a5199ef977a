// The few QMP exchanges the smoke test needs: connect, leave negotiation mode, run commands one by one.
import { connect } from 'node:net';

export interface QmpCommand {
  readonly execute: string;
  readonly arguments?: Record<string, unknown>;
}

/** Runs COMMANDS in order on the QMP socket at PATH; rejects on the first error reply, a closed socket or after TIMEOUT_MS. */
export function runQmp(path: string, commands: readonly QmpCommand[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const queue: QmpCommand[] = [{ execute: 'qmp_capabilities' }, ...commands];
    let buffered = '';
    let greeted = false;
    const timer = setTimeout(() => finish(new Error(`qmp: no answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const next = (): void => {
      const command = queue.shift();
      if (command) socket.write(`${JSON.stringify(command)}\n`);
      else finish();
    };
    const onMessage = (message: Record<string, unknown>): void => {
      if ('QMP' in message && !greeted) {
        greeted = true;
        next();
      } else if ('error' in message) {
        finish(new Error(`qmp: ${JSON.stringify(message.error)}`));
      } else if ('return' in message) {
        next();
      }
      // Events ({"event": ...}) are not needed here.
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, end).trim();
        buffered = buffered.slice(end + 1);
        if (line) onMessage(JSON.parse(line) as Record<string, unknown>);
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('qmp: socket closed before the commands were answered')));
  });
}
