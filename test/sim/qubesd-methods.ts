// The Admin API calls the simulated qubesd answers besides admin.Events and admin.vm.CreateDisposable (preload.ts): the reads
// dom0 makes on qubesd's socket (qube list, power state, properties, features, tags) and tagging. Each answer follows QubesOS/qubes-core-admin qubes/api/admin.py (tag v4.2.39 and
// main): vm_list (R4.3 adds ` uuid=`), vm_current_state, _serialize_property, vm_feature_get, vm_tag_list, vm_tag_set; exceptions as
// QubesDaemonProtocol.send_exception frames them (qubes/api/__init__.py), with the messages of qubes/exc.py. A call qubesd
// would not answer (a method it does not have, an argument where none is wanted, a ValueError such as an invalid tag) is
// dropped: the connection closes without a reply, as qubesd's handler leaves it.
import { vmPowerState } from './qvm-queries.ts';
import { readState, withState, type SimState, type SimVm } from './state.ts';

export interface AdminCall {
  readonly method: string;
  readonly arg: string;
  readonly dest: string;
  readonly payload: Buffer;
}

/** What the server does with a call: answer with these bytes, or close without a reply. */
export type AdminAnswer = { readonly reply: Buffer } | { readonly drop: true };

const value = (text: string): AdminAnswer => ({ reply: Buffer.concat([Buffer.from([0x30, 0x00]), Buffer.from(text, 'utf8')]) });

/** send_exception without the traceback (qubesd adds one only in debug mode). */
export const exception = (type: string, message: string): { readonly reply: Buffer } => ({ reply: Buffer.from(`2\0${type}\0\0${message}\0`, 'utf8') });

const DROP: AdminAnswer = { drop: true };

/** The calls answered here, each with whether it takes an argument (none takes a payload). */
const METHODS: Readonly<Record<string, { readonly wantsArg: boolean }>> = {
  'admin.vm.List': { wantsArg: false },
  'admin.vm.CurrentState': { wantsArg: false },
  'admin.vm.property.Get': { wantsArg: true },
  'admin.property.Get': { wantsArg: true },
  'admin.vm.feature.Get': { wantsArg: true },
  'admin.vm.tag.List': { wantsArg: false },
  'admin.vm.tag.Set': { wantsArg: true },
};

/** Whether `method` is a call the server answers once (admin.Events is a stream; CreateDisposable is preload.ts's, and takes time). */
export const answersMethod = (method: string): boolean => Object.hasOwn(METHODS, method) || method === 'admin.vm.CreateDisposable';

/** qubes.vm.Tags.validate_tag: anything else raises ValueError, which qubesd does not answer. */
const TAG = /^[a-zA-Z0-9_-]+$/;

type PropType = 'vm' | 'bool' | 'label' | 'str';
/** The qube properties the simulator has, with the type _serialize_property names (klass is the client's, not a property). */
const VM_PROPS: Readonly<Record<string, PropType>> = {
  auto_cleanup: 'bool',
  label: 'label',
  name: 'str',
  netvm: 'vm',
  template: 'vm',
  template_for_dispvms: 'bool',
  uuid: 'str',
};

function vmProperty(vm: SimVm, prop: string): string {
  switch (prop) {
    case 'uuid': return vm.uuid ?? '';
    case 'auto_cleanup': return vm.auto_cleanup ? 'True' : 'False';
    case 'template_for_dispvms': return vm.template_for_dispvms ? 'True' : 'False';
    case 'name': return vm.name;
    case 'label': return vm.label;
    case 'netvm': return vm.netvm;
    default: return vm.template;
  }
}

const property = (type: PropType, text: string): AdminAnswer => value(`default=False type=${type} ${text}`);

function listLine(state: SimState, vm: SimVm): string {
  return `${vm.name} class=${vm.class} state=${vmPowerState(vm)}${state.settings.release === '4.3' ? ` uuid=${vm.uuid ?? ''}` : ''}\n`;
}

/**
 * vm_current_state's words, in its order. A qube that is not running has no libvirt domain that is active: 0 for each figure
 * (qubes/vm/qubesvm.py get_mem, get_mem_static_max, get_cputime); a running one, the simulator's fixed figures.
 */
function currentState(vm: SimVm): string {
  const active = vm.running || vm.paused;
  return `mem=${active ? 409600 : 0} mem_static_max=${active ? 4096000 : 0} cputime=${active ? 1 : 0} power_state=${vmPowerState(vm)}`;
}

/** The answer to one call whose source and destination exist (the server checked both). */
export function answerAdminCall(dir: string, call: AdminCall): AdminAnswer {
  const shape = METHODS[call.method];
  if (!shape || call.payload.length > 0 || shape.wantsArg !== (call.arg !== '')) return DROP;
  const state = readState(dir);
  const vm = state.vms[call.dest]!;
  switch (call.method) {
    case 'admin.vm.List': {
      const listed = call.dest === 'dom0' ? Object.values(state.vms).sort((a, b) => (a.name < b.name ? -1 : 1)) : [vm];
      return value(listed.map((each) => listLine(state, each)).join(''));
    }
    case 'admin.vm.CurrentState':
      return value(currentState(vm));
    case 'admin.vm.property.Get': {
      const type = VM_PROPS[call.arg];
      if (!type) return exception('QubesNoSuchPropertyError', `Invalid property '${call.arg}' of ${call.dest}`);
      return property(type, vmProperty(vm, call.arg));
    }
    case 'admin.property.Get':
      if (call.dest !== 'dom0') return DROP;
      if (call.arg !== 'default_dispvm') return exception('QubesNoSuchPropertyError', `Invalid property '${call.arg}' of Qubes`);
      return property('vm', state.prefs.default_dispvm);
    case 'admin.vm.feature.Get': {
      const found = vm.features?.[call.arg];
      return found === undefined ? exception('QubesFeatureNotFoundError', `Feature not set for domain ${call.dest}: ${call.arg}`) : value(found);
    }
    case 'admin.vm.tag.List':
      return value([...(vm.tags ?? [])].sort().map((tag) => `${tag}\n`).join(''));
    case 'admin.vm.tag.Set':
      if (!TAG.test(call.arg)) return DROP;
      withState(dir, (current) => {
        const target = current.vms[call.dest];
        if (target) target.tags = [...new Set([...(target.tags ?? []), call.arg])];
      });
      return value('');
    default:
      return DROP;
  }
}
