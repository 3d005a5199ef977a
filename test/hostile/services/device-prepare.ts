// A compromised device VM's splitdmcrypt.DevicePrepare: answers the request with one hand-made frame, chosen by --args `reply`:
//   date        a device-prepared frame with a msgpack timestamp (extension type -1, a Date once decoded) in it
//   record      a device-prepared frame encoded as a msgpackr record (a structure definition, then the values)
//   type-object {type: {toString: 1, valueOf: 2}}: a `type` that breaks String()
//   usage-error an error frame of kind 'usage' (dom0 must not take it as its own command line's fault)
import nacl from 'tweetnacl';
import { DevicePrepareRequest } from '../../../shared/protocol/messages.ts';
import { dom0Channel, hostileArgs, hostileMain, observe, rawFrame } from '../service-kit.ts';

const replies: Record<string, () => Buffer> = {
  date: () => rawFrame({ v: 1, type: 'device-prepared', publicKey: nacl.box.keyPair().publicKey, partitionScan: 'disabled', at: new Date(0) }),
  record: () => rawFrame({ v: 1, type: 'device-prepared', publicKey: nacl.box.keyPair().publicKey, partitionScan: 'disabled' }, { useRecords: true }),
  'type-object': () => rawFrame({ v: 1, type: { toString: 1, valueOf: 2 } }),
  'usage-error': () => rawFrame({ v: 1, type: 'error', kind: 'usage', message: 'x' }),
};

await hostileMain(async () => {
  const { reply = '' } = hostileArgs<{ reply?: string }>();
  const make = replies[reply];
  if (!make) throw new Error(`unknown reply ${reply}`);
  await dom0Channel().receive(DevicePrepareRequest);
  const frame = make();
  observe('reply', { reply, hex: frame.toString('hex') });
  process.stdout.write(frame);
});
