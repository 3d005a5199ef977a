// The simulated qubesd's event stream, read with the project's own client (dom0/admin-events.ts): what the fake tools emit
// per release, two drives plugged at once, order, only events after the connection, qubesd restarted (cleanly and
// killed), injected garbage, and qubesd's answers to malformed requests and methods it does not serve.
import { spawn } from 'node:child_process';
import { existsSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawAdminEvent } from '../../dom0/admin-event-frames.ts';
import { toQubesEvent } from '../../dom0/admin-event-types.ts';
import { followAdminEvents } from '../../dom0/admin-events.ts';
import { startQubesd, type SimQubesd } from '../helpers/qubesd.ts';
import { newSim, SIM } from '../helpers/sim.ts';
import { createDispVm, dom0, simRun } from './sim-tools.ts';

type Stream = AsyncGenerator<RawAdminEvent, void, undefined>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A simulator of `release`, its qubesd, and a follower of the stream (already past connection-established). */
async function setUp(release: '4.2' | '4.3') {
  const dir = newSim(`--qubes-release=${release}`);
  let qubesd: SimQubesd = await startQubesd(dir);
  cleanups.push(() => qubesd.stop());
  const abort = new AbortController();
  const logs: string[] = [];
  const events: Stream = followAdminEvents({ socketPath: qubesd.socket, signal: abort.signal, log: (m) => logs.push(m), firstRetryMs: 50, maxRetryMs: 200, handshakeMs: 2000 });
  cleanups.push(() => abort.abort());
  expect(await take(events, 1)).toEqual(['- connection-established']);
  /** Stops or kills qubesd, runs `meanwhile`, starts it again. */
  const restart = async (how: 'stop' | 'kill', meanwhile: () => void = () => {}) => {
    await qubesd[how]();
    meanwhile();
    qubesd = await startQubesd(dir);
  };
  return { dir, events, logs, restart, stop: () => qubesd.stop() };
}

function disk(dir: string, name: string): string {
  const path = join(dir, '..', name);
  writeFileSync(path, '');
  truncateSync(path, 1024 * 1024);
  return path;
}

const show = (e: RawAdminEvent): string => `${e.subject ?? '-'} ${e.event}${Object.entries(e.kwargs).map(([k, v]) => ` ${k}=${v}`).join('')}`;

/** The next `n` events, or fewer if none comes within `ms` of the previous one. */
async function take(events: Stream, n: number, ms = 10_000): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) {
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
    const next = await Promise.race([events.next(), timeout]);
    if (next === 'timeout' || next.done) break;
    out.push(show(next.value));
  }
  return out;
}

/** Runs qubes-sim commands at the same time, as two drives plugged together. */
function together(...commands: string[][]): Promise<number[]> {
  return Promise.all(commands.map((args) => new Promise<number>((resolve) => spawn(SIM, args, { stdio: 'ignore' }).on('exit', (code) => resolve(code ?? -1)))));
}

describe('block devices', () => {
  it('R4.3: two drives plugged at once are both seen, each list change before its device, then unplugged', async () => {
    const { dir, events } = await setUp('4.3');
    const [a, b] = [disk(dir, 'a.img'), disk(dir, 'b.img')];
    expect(await together(['add-block', dir, 'sys-usb', 'sda', a], ['add-block', dir, 'sys-usb', 'sdb', b])).toEqual([0, 0]);
    const plugged = await take(events, 4);
    expect(plugged.filter((e) => e === 'sys-usb device-list-change:block')).toHaveLength(2);
    const added = plugged.filter((e) => e.includes('device-added:block'));
    expect(added.map((e) => e.split(' ')[2]!.split(':').slice(0, 2).join(':')).sort()).toEqual(['device=sys-usb:sda', 'device=sys-usb:sdb']);
    expect(plugged[0]).toBe('sys-usb device-list-change:block');
    expect(plugged[2]).toBe('sys-usb device-list-change:block');
    // Identities differ per drive and parse as typed events.
    const typed = added.map((line) => toQubesEvent({ subject: 'sys-usb' as never, event: 'device-added:block', kwargs: { device: line.split('device=')[1]! } }));
    expect(typed.every((t) => t?.kind === 'block-added')).toBe(true);
    expect(new Set(typed.map((t) => (t?.kind === 'block-added' ? t.deviceId : ''))).size).toBe(2);
    simRun(['remove-block', dir, 'sys-usb', 'sda']);
    expect(await take(events, 2)).toEqual(['sys-usb device-list-change:block', 'sys-usb device-removed:block port=sys-usb:sda']);
  });

  it('R4.3: the same drive keeps its identity when plugged again', async () => {
    const { dir, events } = await setUp('4.3');
    const a = disk(dir, 'a.img');
    simRun(['add-block', dir, 'sys-usb', 'sda', a]);
    simRun(['remove-block', dir, 'sys-usb', 'sda']);
    simRun(['add-block', dir, 'sys-usb', 'sdc', a]);
    const seen = await take(events, 6);
    const ids = seen.filter((e) => e.includes('device-added')).map((e) => e.split(':').slice(3).join(':'));
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it('R4.2: only device-list-change:block, and none for a halted backend', async () => {
    const { dir, events } = await setUp('4.2');
    simRun(['add-block', dir, 'work', 'sda', disk(dir, 'w.img')]);
    simRun(['add-block', dir, 'sys-usb', 'sda', disk(dir, 'a.img')]);
    simRun(['remove-block', dir, 'sys-usb', 'sda']);
    expect(await take(events, 3, 1500)).toEqual(['sys-usb device-list-change:block', 'sys-usb device-list-change:block']);
  });

  it('remove-block takes the drive from the qube it was attached to', async () => {
    const { dir } = await setUp('4.3');
    simRun(['add-block', dir, 'sys-usb', 'sda', disk(dir, 'a.img')]);
    expect(dom0(dir, 'qvm-start', ['work']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-block', ['attach', 'work', 'sys-usb:sda']).exitCode).toBe(0);
    expect(simRun(['remove-block', dir, 'sys-usb', 'sda']).exitCode).toBe(0);
    expect(simRun(['attachments', dir]).stdout).not.toContain('sys-usb:sda');
    expect(simRun(['remove-block', dir, 'sys-usb', 'sda']).exitCode).not.toBe(0);
  });
});

describe('qubes starting and stopping', () => {
  it('a DisposableVM created, started and killed: its events in order', async () => {
    const { dir, events } = await setUp('4.3');
    expect(createDispVm(dir, 'dm-device-disp12345678').exitCode).toBe(0);
    expect(dom0(dir, 'qvm-start', ['dm-device-disp12345678']).exitCode).toBe(0);
    expect(dom0(dir, 'qvm-kill', ['dm-device-disp12345678']).exitCode).toBe(0);
    const vm = 'dm-device-disp12345678';
    expect(await take(events, 7)).toEqual([
      `- domain-add vm=${vm}`,
      `${vm} domain-pre-start start_guid=True`,
      `${vm} domain-spawn start_guid=True`,
      `${vm} domain-start start_guid=True`,
      `${vm} domain-stopped`,
      `${vm} domain-shutdown`,
      `- domain-delete vm=${vm}`,
    ]);
  });

  it('R4.3: a backend stopping reports its devices gone, and starting reports them back', async () => {
    const { dir, events } = await setUp('4.3');
    simRun(['add-block', dir, 'sys-usb', 'sda', disk(dir, 'a.img')]);
    expect(await take(events, 2)).toHaveLength(2);
    expect(dom0(dir, 'qvm-kill', ['sys-usb']).exitCode).toBe(0);
    expect(await take(events, 3)).toEqual(['sys-usb domain-stopped', 'sys-usb device-removed:block port=sys-usb:sda', 'sys-usb domain-shutdown']);
    expect(dom0(dir, 'qvm-start', ['sys-usb']).exitCode).toBe(0);
    const started = await take(events, 5);
    expect(started.slice(0, 4)).toEqual(['sys-usb domain-pre-start start_guid=True', 'sys-usb domain-spawn start_guid=True', 'sys-usb domain-start start_guid=True', 'sys-usb device-list-change:block']);
    expect(started[4]).toMatch(/^sys-usb device-added:block device=sys-usb:sda:/);
  });
});

describe('qubesd going away', () => {
  it.each(['stop', 'kill'] as const)('after a %s and a restart the follower reconnects and sees new events', async (how) => {
    const { dir, events, logs, restart } = await setUp('4.3');
    await restart(how);
    expect(await take(events, 1)).toEqual(['- connection-established']);
    expect(logs.filter((l) => l.includes('lost'))).toHaveLength(1);
    simRun(['add-block', dir, 'sys-usb', 'sda', disk(dir, 'a.img')]);
    expect(await take(events, 1)).toEqual(['sys-usb device-list-change:block']);
  });

  it('events logged while qubesd is down or before a connection are not sent', async () => {
    const { dir, events, restart } = await setUp('4.3');
    await restart('stop', () => simRun(['qubesd-emit', dir, 'work', 'domain-start']));
    expect(await take(events, 1)).toEqual(['- connection-established']);
    simRun(['qubesd-emit', dir, 'work', 'domain-shutdown']);
    expect(await take(events, 1)).toEqual(['work domain-shutdown']);
  });
});

describe('garbage from qubesd', () => {
  it('a malformed event is dropped and logged, the connection stays', async () => {
    const { dir, events, logs } = await setUp('4.3');
    simRun(['qubesd-emit', dir, 'bad\x1bname', 'domain-start']);
    simRun(['qubesd-emit', dir, 'work', 'domain-start']);
    expect(await take(events, 1)).toEqual(['work domain-start']);
    expect(logs).toEqual(['qubesd event dropped: domain-start: subject bad\\x1bname is not a qube name']);
  });

  it('broken framing restarts the connection, later events arrive', async () => {
    const { dir, events, logs } = await setUp('4.3');
    simRun(['qubesd-emit', dir, '--raw', Buffer.from('\xff\xffgarbage\0', 'latin1').toString('hex')]);
    expect(await take(events, 1)).toEqual(['- connection-established']);
    expect(logs[0]).toMatch(/event stream broke/);
    simRun(['qubesd-emit', dir, 'work', 'domain-start']);
    expect(await take(events, 1)).toEqual(['work domain-start']);
  });
});

describe('requests other than admin.Events from dom0', () => {
  /** The bytes qubesd answers `request` with, and whether it closed. */
  async function ask(socket: string, request: string, ms = 500): Promise<string> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      const client = connect({ path: socket, allowHalfOpen: true }, () => client.end(Buffer.from(request, 'latin1')));
      client.on('data', (chunk: Buffer) => chunks.push(chunk));
      client.on('error', () => {});
      client.on('close', () => resolve(`${Buffer.concat(chunks).toString('latin1')}|closed`));
      setTimeout(() => {
        client.destroy();
        resolve(Buffer.concat(chunks).toString('latin1'));
      }, ms).unref();
    });
  }

  it.each([
    ['admin.Events+ dom0 name nosuchvm\0', "2\0QubesVMNotFoundError\0\0No such domain: 'nosuchvm'\0|closed", 'an unknown destination'],
    ['admin.vm.Start+ dom0 name work\0', '|closed', 'a method the simulator does not serve'],
    ['admin.Events+x dom0 name dom0\0', '|closed', 'an argument'],
    ['admin.Events+ dom0 name dom0\0payload', '|closed', 'a payload'],
    ['admin.Events+ dom0 dom0\0', '|closed', 'a framing error'],
    ['admin.Events+ dom0 keyword adminvm\0', '1\0\0connection-established\0\0', 'the adminvm keyword, meaning dom0'],
  ])('%j: %j (%s)', async (request, answer) => {
    const dir = newSim('--qubes-release=4.3');
    const qubesd = await startQubesd(dir);
    cleanups.push(() => qubesd.stop());
    expect(await ask(qubesd.socket, request)).toBe(answer);
  });

  it('a qube as destination gets only its own events', async () => {
    const dir = newSim('--qubes-release=4.3');
    const qubesd = await startQubesd(dir);
    cleanups.push(() => qubesd.stop());
    const answer = ask(qubesd.socket, 'admin.Events+ dom0 name work\0', 1500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    simRun(['qubesd-emit', dir, 'sys-usb', 'domain-start']);
    simRun(['qubesd-emit', dir, 'work', 'domain-start']);
    expect(await answer).toBe('1\0\0connection-established\0\0' + '1\0work\0domain-start\0\0');
    expect(existsSync(qubesd.socket)).toBe(true);
  });
});
