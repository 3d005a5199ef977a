// The few qubesd events the tool acts on, as typed values; every other event is ignored. Names and arguments, per release:
// - both: `domain-start` (start_guid), `domain-shutdown` (no arguments) on the qube (QubesOS/qubes-core-admin
//   qubes/vm/qubesvm.py, release4.2 and main); `connection-established` on the app first on every connection
//   (qubes/api/admin.py, QubesAdminAPI.events).
// - R4.2 (release4.2 qubes/ext/block.py, on_qdb_change): a block device appearing or going fires only
//   `device-list-change:block`, no arguments, on the backend qube; the listing must be read again to know what changed.
// - R4.3 (main qubes/ext/utils.py, device_list_change; qubes/ext/block.py, on_domain_shutdown): `device-list-change:block`,
//   then `device-removed:block` with `port=BACKEND:PORT` and `device-added:block` with `device=BACKEND:PORT:DEVICE_ID`
//   (str() of Port and VirtualDevice, qubes/device_protocol.py), all on the backend qube; a backend shutting down fires
//   `device-removed:block` for each of its devices. DEVICE_ID itself may hold colons (`<parent identity>:<interface>`).
import { shown, type RawAdminEvent } from './admin-event-frames.ts';
import { isDevicePort, type DevicePort, type VmName } from './names.ts';

/** A device identity is the backend's own description of the device: printable ASCII, bounded. */
export const MAX_DEVICE_ID_CHARS = 512;

export type QubesEvent =
  /** A (re)connection: events may have been missed before it, so whoever follows state must read it again. */
  | { readonly kind: 'connected' }
  /** R4.2's only block event, also sent on R4.3: `backend`'s block devices changed in some way. */
  | { readonly kind: 'block-list-changed'; readonly backend: VmName }
  | { readonly kind: 'block-added'; readonly backend: VmName; readonly port: DevicePort; readonly deviceId: string }
  | { readonly kind: 'block-removed'; readonly backend: VmName; readonly port: DevicePort }
  | { readonly kind: 'domain-start'; readonly vm: VmName }
  | { readonly kind: 'domain-shutdown'; readonly vm: VmName };

/** A known event whose arguments do not make sense: ignored, with the reason for the log. */
export interface MalformedEvent {
  readonly kind: 'malformed';
  readonly event: string;
  readonly reason: string;
}

const DEVICE_ID = /^[\x20-\x7e]*$/;

/** `BACKEND:PORT` of the event's own subject (the backend fires device events on itself), or the reason it is not. */
function portOf(subject: VmName, raw: string | undefined): { port: DevicePort; rest: string | undefined } | string {
  if (raw === undefined) return 'no port argument';
  const colon = raw.indexOf(':');
  const backend = raw.slice(0, colon);
  if (colon < 0 || backend !== subject) return `${shown(raw)} is not a device of ${subject}`;
  const second = raw.indexOf(':', colon + 1);
  const port = second < 0 ? raw.slice(colon + 1) : raw.slice(colon + 1, second);
  if (!isDevicePort(port)) return `${shown(raw)} does not name a block device port`;
  return { port, rest: second < 0 ? undefined : raw.slice(second + 1) };
}

function blockEvent(raw: RawAdminEvent, backend: VmName): QubesEvent | MalformedEvent {
  const malformed = (reason: string): MalformedEvent => ({ kind: 'malformed', event: raw.event, reason: `${backend}: ${reason}` });
  if (raw.event === 'device-list-change:block') return { kind: 'block-list-changed', backend };
  if (raw.event === 'device-removed:block') {
    const parsed = portOf(backend, raw.kwargs.port);
    if (typeof parsed === 'string') return malformed(parsed);
    if (parsed.rest !== undefined) return malformed(`port ${shown(raw.kwargs.port ?? '')} carries more than BACKEND:PORT`);
    return { kind: 'block-removed', backend, port: parsed.port };
  }
  const parsed = portOf(backend, raw.kwargs.device);
  if (typeof parsed === 'string') return malformed(parsed);
  // Why: the identity is the backend's word about the device, compared later with a remembered one; keep it plain text.
  const deviceId = parsed.rest;
  if (deviceId === undefined || deviceId.length > MAX_DEVICE_ID_CHARS || !DEVICE_ID.test(deviceId)) {
    return malformed(`device ${shown(raw.kwargs.device ?? '')} has no printable identity of at most ${MAX_DEVICE_ID_CHARS} characters`);
  }
  return { kind: 'block-added', backend, port: parsed.port, deviceId };
}

const BLOCK_EVENTS = new Set(['device-list-change:block', 'device-added:block', 'device-removed:block']);

/** The typed event `raw` is, `undefined` for an event the tool does not follow, or why a known one is malformed. */
export function toQubesEvent(raw: RawAdminEvent): QubesEvent | MalformedEvent | undefined {
  if (raw.event === 'connection-established') return raw.subject === null ? { kind: 'connected' } : undefined;
  if (raw.subject === null) return undefined;
  if (raw.event === 'domain-start' || raw.event === 'domain-shutdown') return { kind: raw.event, vm: raw.subject };
  if (BLOCK_EVENTS.has(raw.event)) return blockEvent(raw, raw.subject);
  return undefined;
}
