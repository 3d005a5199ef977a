// Findings 5 and 6, frames a compromised device VM shapes against dom0's decoder: msgpack extension types (a Date, ext -1) and
// msgpackr records decode to something other than plain data; a `type` that breaks String() once made an "unexpected failure";
// a peer's error frame of kind 'usage' once became dom0's own usage error (exit 64 and a --help hint). Each is now a typed
// protocol error or a plain failure: exit 1, one error line, nothing left.
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../helpers/tmp.ts';
import { runSplit } from '../helpers/sim.ts';
import { expectRefused, installHostile, luks1Disk, useHostileScripts, type HostileRuleOptions } from './kit.ts';

const tmp = useTmpDir();
const scripts = useHostileScripts();

async function attachAgainst(name: string, rule: (scripts: { path(name: string): string }) => HostileRuleOptions) {
  const context = await luks1Disk(tmp, name);
  installHostile(context.dir, rule(scripts));
  const run = await runSplit(context.dir, ['attach', 'work', 'sys-usb:sda'], `${context.volume.passphrase}\n`);
  return { context, run };
}

const prepareProxy = (encode: 'with-date' | 'records') => (s: { path(name: string): string }): HostileRuleOptions => ({
  service: 'splitdmcrypt.DevicePrepare',
  script: s.path('proxy'),
  args: { encode: { 'device-prepared': encode } },
});
const prepareReply = (reply: string) => (s: { path(name: string): string }): HostileRuleOptions => ({
  service: 'splitdmcrypt.DevicePrepare',
  script: s.path('device-prepare'),
  args: { reply },
});

describe('frames only plain data decodes', { timeout: 180_000 }, () => {
  it.each([
    ['a msgpack Date (extension -1) in a real device-prepared reply', prepareProxy('with-date')],
    ['a real device-prepared reply encoded as a msgpackr record', prepareProxy('records')],
  ])('%s: a protocol error', async (what, rule) => {
    const { context, run } = await attachAgainst(`ext-${what.length}`, rule);
    expectRefused(run, context, /protocol|msgpack/i);
  });

  it('a `type` of {toString, valueOf}: a protocol error, not an unexpected failure', async () => {
    const { context, run } = await attachAgainst('type-object', prepareReply('type-object'));
    expect(run.stderr).not.toMatch(/unexpected failure/);
    expectRefused(run, context, /protocol/i);
  });

  it('an error frame of kind usage from the device VM: exit 1, no --help hint', async () => {
    const { context, run } = await attachAgainst('usage-error', prepareReply('usage-error'));
    expect(run.stderr).not.toMatch(/--help/);
    expectRefused(run, context, /device/i);
  });
});
