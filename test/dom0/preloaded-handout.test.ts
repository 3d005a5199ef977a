// handOutDispVM against a scripted Qubes: which payload it asks with, when it starts the qube itself, and what it refuses before
// the qube is given anything (its bookkeeping), each case with the calls it made.
import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../../dom0/cleanup-stack.ts';
import { handOutDispVM, type HandOutLedger } from '../../dom0/preloaded.ts';
import type { VmFacts } from '../../dom0/qubes-listings.ts';
import type { VmName } from '../../dom0/names.ts';
import type { Qubes } from '../../dom0/qubes.ts';

const UUID = '0f3c2a1b-9d8e-4c7b-a6f5-e4d3c2b1a098';

interface World {
  /** What qubesd hands out, by name. */
  readonly handedOut: string;
  readonly listed: Partial<VmFacts>;
}

/** A Qubes that hands out `world.handedOut`, lists it as `world.listed`, and records every call. */
function scripted(world: World): { qubes: Qubes; calls: string[] } {
  const calls: string[] = [];
  const facts: VmFacts = { name: world.handedOut as VmName, uuid: UUID, vmClass: 'DispVM', state: 'Running', netvm: '', ...world.listed };
  const qubes = {
    handOutByName: async () => (calls.push('hand-out by name'), world.handedOut),
    createDisposable: async () => (calls.push('hand-out by uuid'), facts.uuid),
    vmNameByUuid: async (uuid: string) => (calls.push('find uuid'), uuid === facts.uuid ? facts.name : undefined),
    vmFacts: async (name: string) => (calls.push('list'), name === facts.name ? facts : undefined),
    addTag: async (vm: string, tag: string) => void calls.push(`tag ${vm} ${tag}`),
    startVM: async (vm: string) => void calls.push(`start ${vm}`),
  };
  return { qubes: qubes as unknown as Qubes, calls };
}

const ledger = (calls: string[]): HandOutLedger => ({
  intend: async () => calls.push('intend'),
  add: async (vm) => calls.push(`record ${vm.name} ${vm.uuid}`),
  settle: async () => calls.push('settle'),
});

async function handOut(world: World, pool: readonly string[]) {
  const { qubes, calls } = scripted(world);
  const stack = new CleanupStack({ warn: () => undefined, notify: () => undefined });
  const obtained = await handOutDispVM(qubes, 'device', 'dvm', pool, stack, ledger(calls));
  const bookkept = await obtained.bookkept.then(
    () => 'ok',
    (error: unknown) => (error as Error).message,
  );
  return { name: obtained.name, bookkept, calls };
}

describe('handOutDispVM', () => {
  it('a pool member asked by name comes running: its name at once, nothing started, listed and tagged before it is recorded', async () => {
    const { name, bookkept, calls } = await handOut({ handedOut: 'disp12', listed: {} }, ['disp12', 'disp13']);
    expect(name).toBe('disp12');
    expect(bookkept).toBe('ok');
    expect(calls.slice(0, 2)).toEqual(['intend', 'hand-out by name']);
    expect(calls).not.toContain('start disp12');
    expect(calls.indexOf(`record disp12 ${UUID}`)).toBeGreaterThan(Math.max(calls.indexOf('list'), calls.indexOf('tag disp12 qvm-block-split-device')));
    expect(calls.at(-1)).toBe('settle');
  });

  it('a new qube (not among the members read) is started before its name is returned', async () => {
    const { calls } = await handOut({ handedOut: 'disp77', listed: { state: 'Halted' } }, ['disp12']);
    expect(calls.slice(0, 4)).toEqual(['intend', 'hand-out by name', 'list', 'start disp77']);
  });

  it('a member that joined the pool after it was read comes running: not started again', async () => {
    const { bookkept, calls } = await handOut({ handedOut: 'disp77', listed: { state: 'Running' } }, ['disp12']);
    expect(bookkept).toBe('ok');
    expect(calls.filter((call) => call.startsWith('start'))).toEqual([]);
  });

  it('an empty pool is asked by uuid (R4.2 refuses that payload), and the qube started when it is not running', async () => {
    const { name, calls } = await handOut({ handedOut: 'disp5', listed: { state: 'Halted' } }, []);
    expect(name).toBe('disp5');
    expect(calls.slice(0, 5)).toEqual(['intend', 'hand-out by uuid', 'find uuid', 'list', 'start disp5']);
  });

  it.each([
    ['a netvm', { netvm: 'sys-firewall' }, /^disp12, handed out by dvm's pool, has netvm sys-firewall: refused \(the device VM must be offline\)$/],
    ['a pool member that is not running', { state: 'Halted' }, /^disp12, handed out by dvm's pool as preloaded, is not running: refused$/],
  ])('refuses %s before the qube is recorded', async (_what, listed, message) => {
    const { bookkept, calls } = await handOut({ handedOut: 'disp12', listed }, ['disp12']);
    expect(bookkept).toMatch(message);
    expect(calls.some((call) => call.startsWith('record'))).toBe(false);
  });

  it('by uuid, refuses a qube whose name now belongs to another uuid (freed and taken again between the two calls)', async () => {
    const { qubes } = scripted({ handedOut: 'disp5', listed: {} });
    const retaken = { ...qubes, vmFacts: async (name: string) => ({ name, uuid: '11111111-2222-4333-8444-555555555555', vmClass: 'DispVM', state: 'Running', netvm: '' }) } as Qubes;
    const obtained = handOutDispVM(retaken, 'header', 'dvm', [], new CleanupStack({ warn: () => undefined, notify: () => undefined }), ledger([]));
    await expect(obtained).rejects.toThrow(/the disposable dvm's pool handed out \(uuid [0-9a-f-]{36}\) is gone/);
  });

  it.each([
    ['by name, a name qubesd no longer knows', ['disp12']],
    ['by uuid, a uuid the listing does not show', []],
  ])('refuses a qube that is gone: %s', async (_case, pool) => {
    const { qubes } = scripted({ handedOut: 'disp12', listed: {} });
    const gone = { ...qubes, vmNameByUuid: async () => undefined, vmFacts: async () => undefined } as Qubes;
    // By uuid the qube is identified before its name is returned; by name, in its bookkeeping. Either way nothing goes to it.
    const obtained = handOutDispVM(gone, 'header', 'dvm', pool, new CleanupStack({ warn: () => undefined, notify: () => undefined }), ledger([]));
    await expect(obtained.then((vm) => vm.bookkept)).rejects.toThrow(/the disposable dvm's pool handed out \((disp12|uuid [0-9a-f-]{36})\) is gone/);
  });
});
