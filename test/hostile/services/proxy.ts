// Runs the real service and sits between it and dom0: logs every frame each way ({event: 'in'|'out', type}), saves the raw bytes
// dom0 sent in `bytes` frames to DIR/hostile/received-<vm>-<pid>.bin ({event: 'in-bytes', offset, length, file}), and with
// `patch` rewrites fields of the service's replies ({"device-opened": {"readOnly": false}}), and `encode` re-encodes a reply of a
// type as a msgpackr record ('records') or with a msgpack timestamp added ('with-date': field `at`, extension type -1): a
// compromised VM that does the real work and lies about it, or says it in a form our encoder never uses. `cutBytesAfter` stops
// the service's raw bytes half-way and ends the call.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFrame } from '../../../shared/protocol/frame.ts';
import { FrameScanner, hostileArgs, observe, rawFrame, typeOf } from '../service-kit.ts';

interface ProxyArgs {
  /** Frame type -> fields to overwrite in the service's reply of that type. */
  readonly patch?: Record<string, Record<string, unknown>>;
  /** Frame type -> how to re-encode the service's reply of that type. */
  readonly encode?: Record<string, 'records' | 'with-date'>;
  /** Passes on at most this many raw bytes of the service's `bytes` runs, then ends the call with exit 0: a VM that stops half-way. */
  readonly cutBytesAfter?: number;
}

const { patch = {}, encode = {}, cutBytesAfter } = hostileArgs<ProxyArgs>();

/** The reply as sent on: patched, re-encoded, or as the service wrote it. */
function replyFrame(type: string, message: Record<string, unknown>, raw: Buffer): Buffer {
  const patched = { ...message, ...patch[type] };
  if (encode[type] === 'records') return rawFrame(patched, { useRecords: true });
  if (encode[type] === 'with-date') return rawFrame({ ...patched, at: new Date(0) });
  return patch[type] ? encodeFrame(patched) : raw;
}

const real = process.env.QUBES_SIM_REAL_SERVICE ?? '';
const child = spawn(real, process.argv.slice(2), { stdio: ['pipe', 'pipe', 'inherit'] });
const savedBytes = join(process.env.QUBES_SIM_DIR ?? '.', 'hostile', `received-${process.env.QUBES_SIM_VM}-${process.pid}.bin`);

let receivedOffset = 0;
const fromDom0 = new FrameScanner();
process.stdin.on('data', (chunk: Buffer) => {
  for (const piece of fromDom0.push(chunk)) {
    if (piece.kind === 'frame') observe('in', { type: typeOf(piece.message) });
    else {
      appendFileSync(savedBytes, piece.data);
      observe('in-bytes', { offset: receivedOffset, length: piece.data.length, file: savedBytes });
      receivedOffset += piece.data.length;
    }
  }
  child.stdin.write(chunk);
});
process.stdin.on('end', () => child.stdin.end());
child.stdin.on('error', () => undefined);

const fromService = new FrameScanner();
let passedBytes = 0;
let cut = false;
child.stdout.on('data', (chunk: Buffer) => {
  if (cut) return;
  for (const piece of fromService.push(chunk)) {
    if (piece.kind === 'bytes') {
      if (cutBytesAfter !== undefined && passedBytes + piece.data.length >= cutBytesAfter) {
        process.stdout.write(piece.data.subarray(0, cutBytesAfter - passedBytes));
        cut = true;
        observe('cut', { after: cutBytesAfter });
        child.kill('SIGKILL');
        process.stdout.end(() => process.exit(0));
        return;
      }
      passedBytes += piece.data.length;
      process.stdout.write(piece.data);
      continue;
    }
    const type = typeOf(piece.message);
    observe('out', { type, ...(patch[type] ? { patched: patch[type] } : {}), ...(encode[type] ? { encoded: encode[type] } : {}) });
    process.stdout.write(replyFrame(type, piece.message as Record<string, unknown>, piece.raw));
  }
});
child.on('close', (code) => {
  if (!cut) process.stdout.end(() => process.exit(code ?? 1));
});
