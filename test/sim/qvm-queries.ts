// Fake qvm-check, qvm-prefs, qubes-prefs and qvm-ls: answers from the state, with qubesadmin's messages and exit codes.
import { parseToolArgs, usageError } from './tool-args.ts';
import { readState, SimToolError, withState, type SimState, type SimVm } from './state.ts';

/**
 * `qvm-check [--running] VMNAME...`: exit 0 when every qube exists (and runs), 1 when none does, 3 when only some do.
 * A name that does not exist is not an argparse error here: it prints `NAME: non-existent!` and exits 1.
 */
export function qvmCheck(dir: string, rawArgs: readonly string[]): number {
  const args = parseToolArgs('qvm-check', rawArgs, { flags: [['--running'], ['--paused'], ['--template'], ['--networked'], ['--quiet', '-q'], ['--verbose', '-v']] });
  if (args.positionals.length === 0) throw usageError('qvm-check', 'the following arguments are required: VMNAME');
  const state = readState(dir);
  const quiet = args.flags.has('--quiet');
  const say = (line: string) => void (quiet ? undefined : process.stderr.write(`${line}\n`));
  const known = args.positionals.filter((name) => state.vms[name]);
  const missing = args.positionals.filter((name) => !state.vms[name]);
  let exitCode = known.length === 0 ? 1 : 0;
  if (args.flags.has('--running')) {
    const running = known.filter((name) => state.vms[name]!.running);
    if (running.length !== known.length) exitCode = running.length === 0 ? 1 : 3;
    if (running.length === 0) say('None of qubes: running');
    for (const name of running.sort()) say(`${name}: running`);
  } else {
    for (const name of [...known].sort()) say(`${name}: exists`);
  }
  for (const name of missing) say(`${name}: non-existent!`);
  return missing.length > 0 ? 1 : exitCode;
}

type PropName = 'name' | 'klass' | 'template' | 'label' | 'netvm' | 'template_for_dispvms' | 'auto_cleanup' | 'uuid';
const READ_ONLY_PROPS: readonly PropName[] = ['name', 'klass'];
const VM_PROPS: readonly PropName[] = ['auto_cleanup', 'klass', 'label', 'name', 'netvm', 'template', 'template_for_dispvms', 'uuid'];

function propValue(vm: SimVm, prop: PropName): string {
  switch (prop) {
    case 'klass': return vm.class;
    case 'uuid': return vm.uuid ?? '';
    case 'template_for_dispvms': return vm.template_for_dispvms ? 'True' : 'False';
    case 'auto_cleanup': return vm.auto_cleanup ? 'True' : 'False';
    default: return vm[prop];
  }
}

function setProp(state: SimState, vm: SimVm, prop: PropName, value: string): void {
  // uuid is write-once in qubesd ("property 'uuid' is write-once and already set", an AttributeError it does not answer with):
  // qubesadmin gets an empty response and qvm-prefs reports QubesPropertyAccessError (qubesadmin/base.py, exc.py).
  if (prop === 'uuid') throw new SimToolError("qvm-prefs: error: Failed to access 'uuid' property", 1);
  if (READ_ONLY_PROPS.includes(prop)) throw new SimToolError(`qvm-prefs: error: Property is read-only: ${prop}`, 1);
  if ((prop === 'template' || prop === 'netvm') && value !== '' && !state.vms[value]) throw new SimToolError(`qvm-prefs: error: No such domain: '${value}'`, 1);
  if (prop === 'template_for_dispvms' || prop === 'auto_cleanup') vm[prop] = ['true', '1', 'yes', 'on'].includes(value.toLowerCase());
  else vm[prop as 'template' | 'label' | 'netvm'] = value;
}

/** `qvm-prefs VMNAME [PROPERTY [VALUE]]`: lists, prints or sets. */
export function qvmPrefs(dir: string, rawArgs: readonly string[]): string {
  const args = parseToolArgs('qvm-prefs', rawArgs, { flags: [['--quiet', '-q'], ['--verbose', '-v'], ['--help-properties']] });
  const [name, prop, value] = args.positionals;
  const state = readState(dir);
  if (name === undefined) throw usageError('qvm-prefs', 'the following arguments are required: VMNAME');
  const vm = state.vms[name];
  if (!vm) throw usageError('qvm-prefs', `no such domain: '${name}'`);
  if (prop === undefined) {
    const width = Math.max(...VM_PROPS.map((p) => p.length));
    return VM_PROPS.map((p) => `${p.padEnd(width)}  -  ${propValue(vm, p)}\n`).join('');
  }
  if (!VM_PROPS.includes(prop as PropName)) throw usageError('qvm-prefs', `no such property: '${prop}'`);
  if (value === undefined) return `${propValue(vm, prop as PropName)}\n`;
  withState(dir, (current) => setProp(current, current.vms[name]!, prop as PropName, value));
  return '';
}

/** `qubes-prefs [default_dispvm [VALUE]]`. */
export function qubesPrefs(dir: string, rawArgs: readonly string[]): string {
  const args = parseToolArgs('qubes-prefs', rawArgs, { flags: [['--quiet', '-q'], ['--verbose', '-v']] });
  const [prop, value] = args.positionals;
  const state = readState(dir);
  if (prop === undefined) return `default_dispvm  -  ${state.prefs.default_dispvm}\n`;
  if (prop !== 'default_dispvm') throw usageError('qubes-prefs', `no such property: '${prop}'`);
  if (value === undefined) return `${state.prefs.default_dispvm}\n`;
  withState(dir, (current) => {
    if (value !== '' && !current.vms[value]) throw new SimToolError(`qubes-prefs: error: No such domain: '${value}'`, 1);
    current.prefs.default_dispvm = value;
  });
  return '';
}

/** A qube's power state as qubesd names it (vm.get_power_state()): what qvm-ls's STATE column and admin.vm.List show. */
export const vmPowerState = (vm: SimVm): string => (vm.paused ? 'Paused' : vm.running ? 'Running' : 'Halted');

const LS_FIELDS: Record<string, (vm: SimVm) => string> = {
  NAME: (vm) => vm.name,
  STATE: vmPowerState,
  CLASS: (vm) => vm.class,
  UUID: (vm) => vm.uuid ?? '',
  LABEL: (vm) => vm.label,
  TAGS: (vm) => (vm.tags ?? []).join(','),
  TEMPLATE: (vm) => vm.template || '-',
  NETVM: (vm) => vm.netvm || '-',
};

/** `qvm-ls [--raw-data] [--fields F,...] [--running]`: raw data is `|`-separated without a header; qubes sorted by name. */
export function qvmLs(dir: string, rawArgs: readonly string[]): string {
  const args = parseToolArgs('qvm-ls', rawArgs, { valued: [['--fields', '-O'], ['--format', '-o']], flags: [['--raw-data'], ['--running'], ['--halted'], ['--all']] });
  const fields = (args.values.get('--fields')?.at(-1) ?? 'NAME,STATE,CLASS,LABEL,TEMPLATE,NETVM').split(',').map((f) => f.trim().toUpperCase());
  const unknown = fields.find((f) => !LS_FIELDS[f]);
  if (unknown) throw usageError('qvm-ls', `no such column: '${unknown}'`);
  const vms = Object.values(readState(dir).vms)
    .filter((vm) => args.positionals.length === 0 || args.positionals.includes(vm.name))
    .filter((vm) => (args.flags.has('--running') ? vm.running : args.flags.has('--halted') ? !vm.running : true))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const rows = vms.map((vm) => fields.map((f) => LS_FIELDS[f]!(vm)));
  if (args.flags.has('--raw-data')) return rows.map((row) => `${row.join('|')}\n`).join('');
  const all = [fields, ...rows];
  const widths = fields.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => `${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}
