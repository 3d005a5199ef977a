// Secrets are zeroed after use: the buffer a function was given (or produced and handed on) is all zeros once it returns,
// on success and on failure. dom0 (answering a header VM's secret request) and the VM-side library (asking for a secret,
// reading stdin, the byte reader under every channel).
import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Channel } from '../../shared/protocol/channel.ts';
import { encodeFrame } from '../../shared/protocol/frame.ts';
import type { SecretRequest } from '../../shared/protocol/messages.ts';
import { newBoxKeyPair, openSealed, sealTo, type BoxKeyPair } from '../../shared/seal.ts';

// The secret sources of dom0/secrets.ts, replaced so the test holds the very buffers they return.
const given: { passphrase?: Buffer; keyFile?: Buffer } = {};
vi.mock('../../dom0/prompt.ts', () => ({ readPassphrase: async () => (given.passphrase = Buffer.from('typed passphrase')) }));
vi.mock('../../dom0/bounded-file.ts', async (original) => ({
  ...(await original<typeof import('../../dom0/bounded-file.ts')>()),
  readCapped: async () => (given.keyFile = Buffer.from('key file bytes')),
}));
// The VM side's key pairs, kept to check the secret half is zeroed.
const pairs: BoxKeyPair[] = [];
vi.mock('../../shared/seal.ts', async (original) => {
  const real = await original<typeof import('../../shared/seal.ts')>();
  return { ...real, newBoxKeyPair: () => { const pair = real.newBoxKeyPair(); pairs.push(pair); return pair; } };
});

const { SecretDialogue } = await import('../../dom0/secrets.ts');
const { qubesAdapter } = await import('../../dom0/qubes.ts');
type Source = ConstructorParameters<typeof SecretDialogue>[2];
const answerSecretRequest = (c: Channel, request: SecretRequest, source: Source) => new SecretDialogue(qubesAdapter({}), 'unlock', source, 'test header VM').answer(c, request);
const { requestSecret } = await import('../../vm/lib/secret-request.ts');
const { readAllCapped } = await import('../../vm/lib/stdin-secrets.ts');

const allZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/** A channel whose sends are kept and whose input is the given frames. */
function channel(...frames: Buffer[]): { channel: Channel; sent: unknown[] } {
  const sent: unknown[] = [];
  const input = Readable.from(frames);
  const output = { write: (chunk: Uint8Array) => { sent.push(Buffer.from(chunk)); return true; } };
  return { channel: new Channel(input, output, 'test peer'), sent };
}

beforeEach(() => {
  given.passphrase = undefined;
  given.keyFile = undefined;
  pairs.length = 0;
});

describe('dom0: SecretDialogue.answer', () => {
  const request = (kind: SecretRequest['kind'], publicKey: Uint8Array): SecretRequest => ({ v: 1, type: 'secret-request', publicKey: new Uint8Array(publicKey), kind, attempt: 1 });

  it('zeroes the typed passphrase after sealing it (and what it sent opens to it)', async () => {
    const header = newBoxKeyPair();
    const { channel: c, sent } = channel();
    await answerSecretRequest(c, request('passphrase', header.publicKey), { target: 'sys-usb:sda', keyFile: undefined });
    expect(given.passphrase && allZero(given.passphrase)).toBe(true);
    expect(sent).toHaveLength(1);
    // The frame is the sealed box; the header VM's key opens it to the passphrase, nothing else does.
    const frame = sent[0] as Buffer;
    expect(frame.includes(Buffer.from('typed passphrase'))).toBe(false);
    const { decodeFrameBody } = await import('../../shared/protocol/frame.ts');
    const message = decodeFrameBody(frame.subarray(4)) as { sealed: { senderPublicKey: Uint8Array; nonce: Uint8Array; box: Uint8Array } };
    expect(Buffer.from(openSealed(message.sealed, header.secretKey)).toString()).toBe('typed passphrase');
  });

  it('zeroes a dom0 key file after sealing it, and when sending fails', async () => {
    const header = newBoxKeyPair();
    const { channel: c } = channel();
    await answerSecretRequest(c, request('key-file', header.publicKey), { target: 'sys-usb:sda', keyFile: { kind: 'dom0', path: '/k' } });
    expect(given.keyFile && allZero(given.keyFile)).toBe(true);
    const broken = new Channel(Readable.from([]), { write: () => { throw new Error('pipe closed'); } }, 'test peer');
    await expect(answerSecretRequest(broken, request('passphrase', header.publicKey), { target: 'x', keyFile: undefined })).rejects.toThrow(/pipe closed/);
    expect(given.passphrase && allZero(given.passphrase)).toBe(true);
  });
});

describe('VM side', () => {
  it('requestSecret zeroes its one-time secret key; an oversized passphrase is zeroed before the refusal', async () => {
    // The reply is made after the request is seen: a channel whose input waits for the public key we send.
    const reply = async (secret: Buffer): Promise<{ result: Promise<Uint8Array>; }> => {
      let release: (frame: Buffer) => void = () => undefined;
      const frames = (async function* () { yield await new Promise<Buffer>((resolve) => (release = resolve)); })();
      const c = new Channel(frames, { write: () => true }, 'dom0');
      const result = requestSecret(c, 'passphrase', 1);
      await vi.waitFor(() => expect(pairs).toHaveLength(1));
      release(encodeFrame({ type: 'secret', sealed: sealTo(pairs[0]!.publicKey, secret) }));
      return { result };
    };
    const ok = await reply(Buffer.from('short'));
    const secret = await ok.result;
    expect(Buffer.from(secret).toString()).toBe('short');
    expect(allZero(pairs[0]!.secretKey)).toBe(true);
    pairs.length = 0;
    const long = await reply(Buffer.alloc(600, 0x41));
    await expect(long.result).rejects.toThrow(/longer than 512/);
    expect(allZero(pairs[0]!.secretKey)).toBe(true);
  });

  it('readAllCapped zeroes every chunk it read, also when refusing too much input', async () => {
    const chunks = [Buffer.from('pass'), Buffer.from('phrase\n')];
    const all = await readAllCapped(Readable.from(chunks), 100);
    expect(all.toString()).toBe('passphrase\n');
    expect(chunks.every(allZero)).toBe(true);
    const big = [Buffer.alloc(60, 1), Buffer.alloc(60, 2)];
    await expect(readAllCapped(Readable.from(big), 100)).rejects.toThrow(/larger than 100/);
    expect(big.every(allZero)).toBe(true);
  });

  it('the channel byte reader zeroes the input it has consumed (sealed secrets and header areas pass through it)', async () => {
    const frame = encodeFrame({ type: 'bytes', length: 8 });
    const raw = Buffer.from('SECRET!!');
    const input = Buffer.concat([frame, raw]);
    const c = new Channel(Readable.from([input]), { write: () => true }, 'peer');
    expect((await c.receiveBytes('test', 8)).toString()).toBe('SECRET!!');
    expect(input.includes(Buffer.from('SECRET!!'))).toBe(false);
  });
});
