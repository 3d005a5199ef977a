// Every qrexec service refuses a service argument it does not take, before reading a byte of stdin: exit 64, one log line in
// qrexec's shape naming the service, the caller and the argument, and (for framed services) one `error` frame of kind usage.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ByteReader, readFrame } from '../../../shared/protocol/frame.ts';
import { callService, useVmTrees } from './harness.ts';

// Each row: a service, an argument it must refuse, and why that argument is wrong for it.
const REFUSALS: readonly [string, string, string][] = [
  ['splitdmcrypt.DevicePrepare', 'luks1', 'device services take no argument'],
  ['splitdmcrypt.DeviceDescribe', 'x', 'device services take no argument'],
  ['splitdmcrypt.DeviceSendHeader', 'luks2', 'device services take no argument'],
  ['splitdmcrypt.DeviceOpen', 'ro', 'device services take no argument'],
  ['splitdmcrypt.DeviceClose', 'all', 'device services take no argument'],
  ['splitdmcrypt.DeviceWipe', 'yes', 'device services take no argument'],
  ['splitdmcrypt.DeviceWriteHeader', 'random', 'device services take no argument'],
  ['splitdmcrypt.HeaderInspect', 'luks1', 'inspection reads the version from the bytes'],
  ['splitdmcrypt.HeaderUnlock', '', 'the LUKS type is required'],
  ['splitdmcrypt.HeaderUnlock', 'luks3', 'not a LUKS type'],
  ['splitdmcrypt.HeaderFormat', 'LUKS2', 'types are lowercase'],
  ['splitdmcrypt.HeaderKeyslots', 'luks2', 'it takes an operation, not a type'],
  ['splitdmcrypt.HeaderKeyslots', '', 'the operation is required'],
  ['splitdmcrypt.HeaderShellPut', 'luks1-tty', 'only the shell itself takes -tty'],
  ['splitdmcrypt.HeaderShellTake', 'luks2+x', 'nothing after the type'],
];

describe('service arguments', () => {
  const tmp = useVmTrees();

  it('every service bundle has a row here', () => {
    const bundles = readdirSync('dist/vm').filter((name) => name.endsWith('.mjs')).map((name) => name.replace(/\.mjs$/, ''));
    const covered = new Set([...REFUSALS.map(([service]) => service), 'splitdmcrypt.HeaderShell']);
    expect(bundles.filter((service) => !covered.has(service))).toEqual([]);
  });

  it.each(REFUSALS)('%s refuses argument %j (%s)', async (service, argument) => {
    const call = callService(service, argument, tmp());
    const frame = (await readFrame(new ByteReader(call.stdout), 4096)) as Record<string, unknown>;
    const { exitCode, stderr } = await call.finish();
    expect(exitCode).toBe(64);
    expect(frame).toMatchObject({ v: 1, type: 'error', kind: 'usage' });
    expect(stderr).toBe(`${argument ? `${service}+${argument}` : service}: dom0 -> this VM refused: unknown service argument '${argument}' (expected ${/Device|Inspect/.test(service) ? 'none' : /Keyslots/.test(service) ? 'add or remove or change or upgrade' : 'luks1 or luks2'})\n`);
  });

  it.each([['lukstty'], ['luks1-pty'], ['']])('splitdmcrypt.HeaderShell refuses argument %j: no shell starts, exit 64', async (argument) => {
    const root = tmp();
    const call = callService('splitdmcrypt.HeaderShell', argument, root);
    call.write('touch started\n');
    call.end();
    const { exitCode, stderr } = await call.finish();
    expect(exitCode).toBe(64);
    expect(stderr).toMatch(/^splitdmcrypt\.HeaderShell.*: dom0 -> this VM refused: unknown service argument '.*' \(expected luks1 or luks1-tty or luks2 or luks2-tty\)\n$/);
    expect(readdirSync(root)).toEqual([]);
  });
});
