// Checks that need no secret and no VM, made before anything starts: where the decrypted disk may go, and whether the key file
// named can be read at all. A typo costs nothing; a destination that defeats the split (the qube holding the encrypted disk, a
// template whose every child would see the plaintext, one of our own DisposableVMs) is refused with the reason.
import { constants } from 'node:fs';
import { access, lstat } from 'node:fs/promises';
import { OperationError } from '../shared/errors.ts';
import { MAX_KEY_FILE_BYTES } from '../shared/protocol/contract.ts';
import { DISPVM_NAME } from './dispvms.ts';
import type { KeyFileSpec, SourceSpec, VmName } from './names.ts';
import type { Qubes } from './qubes.ts';

/** What the success line says of a named destination: its network qube, when it has one. */
export interface DestinationFacts {
  readonly netvm: string | undefined;
}

/** Refuses a destination that defeats the purpose, before any VM starts; undefined (a new offline DisposableVM) is always fine. */
export async function checkDestination(qubes: Qubes, destination: VmName | undefined, source: SourceSpec, dispVmTemplate: string): Promise<DestinationFacts | undefined> {
  if (destination === undefined) return undefined;
  const refuse = (why: string): never => {
    throw new OperationError(`refusing to attach the decrypted disk to ${destination}: ${why}`);
  };
  if (destination === source.backend) refuse(`it is the qube that holds the encrypted disk ${source.backend}:${source.port}, which must never see its plaintext`);
  if (DISPVM_NAME.test(destination)) refuse('it is one of split-dm-crypt\'s own DisposableVMs');
  // The four queries are asked at once (each a tool call before any VM starts); their answers are judged in this order.
  const [listed, sourceNetvm, forDispVms, netvm] = await Promise.allSettled([
    qubes.listVMs(),
    qubes.getPref(source.backend, 'netvm'),
    qubes.getPref(destination, 'template_for_dispvms'),
    qubes.getPref(destination, 'netvm'),
  ]);
  const qube = answer(listed).find((vm) => vm.name === destination);
  if (!qube) throw new OperationError(`there is no qube named ${destination} (see 'qvm-ls')`);
  // The source's network qube carries whatever the source sends: a compromised source and its netvm must not share the plaintext.
  if (answer(sourceNetvm) === destination) refuse(`it is the network qube of ${source.backend}, which holds the encrypted disk`);
  if (qube.vmClass === 'TemplateVM' || qube.vmClass === 'AdminVM') refuse(`it is a ${qube.vmClass === 'TemplateVM' ? 'template: every qube based on it would see what it writes' : 'dom0'}`);
  if (destination === dispVmTemplate || answer(forDispVms) === 'True') {
    refuse('it is a disposable template: every DisposableVM started from it afterwards would inherit what it keeps');
  }
  const destinationNetvm = answer(netvm);
  return { netvm: destinationNetvm === '' || destinationNetvm === 'None' ? undefined : destinationNetvm };
}

/** A settled query's answer, or its error thrown where the answer is first needed. */
function answer<T>(settled: PromiseSettledResult<T>): T {
  if (settled.status === 'rejected') throw settled.reason;
  return settled.value;
}

/** A dom0 key file that cannot be read is said now, in words, before any VM starts (its bytes are read only when asked for). */
export async function checkKeyFile(spec: KeyFileSpec | undefined): Promise<void> {
  if (spec === undefined || spec.kind !== 'dom0') return;
  const problem = await lstat(spec.path).then(
    async (found) => {
      // As it will be read: without following a link (dom0/bounded-file.ts).
      if (found.isSymbolicLink()) return 'is a symbolic link: name the file itself';
      if (!found.isFile()) return 'is not a regular file';
      if (found.size > MAX_KEY_FILE_BYTES) return `is larger than the limit of ${MAX_KEY_FILE_BYTES} bytes`;
      if (found.size === 0) return 'is empty';
      return access(spec.path, constants.R_OK).then(() => undefined, () => 'is not readable by this user');
    },
    (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? 'does not exist' : `cannot be read (${error.code ?? 'unknown error'})`),
  );
  if (problem) throw new OperationError(`key file ${spec.path} (--key-file) ${problem}`);
}
