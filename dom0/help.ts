// `qvm-block-split --help` and `qvm-block-split COMMAND --help`: the usage of the tool, or one command's usage and options.
// The man page (dom0/qvm-block-split.1) says the same at length.
import { USAGE, type CommandName } from './cli.ts';

const KEY_FILE = `  --key-file=[<vm>:]<path>   a key file instead of a passphrase: a dom0 path when there is no <vm>: or it starts with
                             / or .; otherwise relative to /home/user in <vm> (at most 8 MiB, used byte for byte)`;
/** --type means something else per command: what attach expects, what a shred destroys when no header is found, what a format makes. */
const TYPE = '  --type=luks1|luks2         the LUKS version expected (default luks2, which also attaches a LUKS1 volume; luks1 refuses LUKS2)';
const TYPE_SHRED = '  --type=luks1|luks2         the area destroyed when the disk holds no LUKS header (default luks2: 16 MiB); a header found is\n                             destroyed up to its data whatever this says';
const TYPE_FORMAT = '  --type=luks1|luks2         the LUKS version made (default luks2)';
const TYPE_SHELL = '  --type=luks1|luks2         the header area the shell gets when the disk holds no header (overwrite: always)';
const YES = '  --yes                      confirm without asking (needed when stdin is not a terminal)';
const HELP = '  -h, --help                 this help';
const KEYSLOT_PIPELINE = `An offline header DisposableVM asks for the secrets and makes the change; a fresh DisposableVM that only parses reads
the header before and the result, dom0 shows the key slots before and after and asks, and the device DisposableVM writes
the new header area in one write. The volume key and the data are untouched. Exit 2, and nothing written, when no key slot
opens with the existing passphrase (3 tries) or key file.`;
const NEW_KEY_FILE = `  --new-key-file=[<vm>:]<path>  the new secret as a key file (as --key-file); otherwise the new passphrase is asked twice`;
const KDF = `  --iter-time=MS             the new key slot's unlock time, measured in the header DisposableVM (default 5000)
  --pbkdf-force-iterations=N exactly N PBKDF2 iterations (Argon2 passes) instead (excludes --iter-time)
  --pbkdf=argon2id|argon2i|pbkdf2   LUKS2: the new key slot's KDF (default argon2id)
  --pbkdf-memory=KiB         LUKS2: Argon2 memory (default 262144)`;

const COMMANDS: Readonly<Record<CommandName, string>> = {
  attach: `usage: qvm-block-split attach|at|a [--ro] [--key-file=[<vm>:]<path>] [--type=luks1|luks2] [--data-offset=SECTORS] [<dst-vm>] <src-vm>:<device>

Unlocks the LUKS volume on <src-vm>:<device> and attaches the decrypted disk to <dst-vm> as a new block device.
'attach <name>' attaches a known volume (see remember) with its stored settings; only --ro and <dst-vm> may be given.
The disk goes to an offline device DisposableVM that never parses it; only its header goes to a header DisposableVM,
which asks for the passphrase; dom0 never holds the volume key. <dst-vm> defaults to a new offline DisposableVM.
On Qubes R4.3, <src-vm>:<device>:<device-id> (the identity 'qvm-block info' shows) attaches the device only while the
device on that port has that identity; 'status' then shows it.

options:
  --ro                       attach read-only, from the source disk to the destination
${KEY_FILE}
${TYPE}
  --data-offset=SECTORS      accept a header whose data starts at this sector although it is not cryptsetup's default
                             (LUKS1 4096, LUKS2 32768); otherwise such a header must be confirmed on the terminal
${HELP}`,
  detach: `usage: qvm-block-split detach|dt|d <src-vm>:<device>

Detaches the decrypted disk from its destination, removes the mapping, detaches the source disk and ends the device
DisposableVM. The destination qube keeps running.

options:
${HELP}`,
  'overwrite-everything-with-random': `usage: qvm-block-split overwrite-everything-with-random [--yes] <src-vm>:<device>

Overwrites the whole disk with random data made in the device DisposableVM (OpenSSL's AES-256-CTR DRBG), with progress.
Everything on it is destroyed.

options:
${YES}
${HELP}`,
  'overwrite-header-with-random': `usage: qvm-block-split overwrite-header-with-random [--yes] [--type=luks1|luks2] <src-vm>:<device>

Replaces the LUKS header area with random bytes: the volume can never be decrypted again, its data stays unreadable.

options:
${YES}
${TYPE_SHRED}
${HELP}`,
  'overwrite-header-with-format': `usage: qvm-block-split overwrite-header-with-format [--yes] [<options>] <src-vm>:<device>

Writes a new LUKS header (a new volume key) made in a header DisposableVM, which asks for the new passphrase twice.
The old volume key is gone: data under the old header cannot be decrypted any more.

options:
${YES}
${KEY_FILE}
${TYPE_FORMAT}
  --cipher=aes-xts-plain64|xchacha12,aes-adiantum-plain64   the data cipher (default aes-xts-plain64;
                             Adiantum: LUKS2 only, a 256-bit key)
  --key-size=256|512         the key size in bits (default 512 for AES-XTS, 256 for Adiantum)
  --hash=sha256|sha512       the PBKDF2 hash (default sha512)
  --iter-time=MS             PBKDF2 time per key slot, measured in the header DisposableVM (default 5000)
  --pbkdf-force-iterations=N exactly N PBKDF2 iterations (Argon2 passes for LUKS2) instead (excludes --iter-time)
  --pbkdf=argon2id|argon2i|pbkdf2   LUKS2: the key-slot KDF (default argon2id)
  --pbkdf-memory=KiB         LUKS2: Argon2 memory (default 262144)
  --sector-size=512|4096     LUKS2: the encryption sector size (default 512)
${HELP}`,
  'overwrite-header-with-shell': `usage: qvm-block-split overwrite-header-with-shell [--yes] [--type=luks1|luks2] <src-vm>:<device>

Opens a root shell in an offline header DisposableVM over a header area of random bytes, for your own cryptsetup
commands; what you leave there is checked and, when it is a valid header, written to the disk.

options:
${YES}
${TYPE_SHELL}
${HELP}`,
  'modify-header-with-shell': `usage: qvm-block-split modify-header-with-shell [--yes] [--type=luks1|luks2] <src-vm>:<device>

Opens a root shell in an offline header DisposableVM over a copy of the disk's header area (to add or remove a key
slot with cryptsetup, for example); what you leave there is checked and, when it is a valid header, written back.

options:
${YES}
${TYPE_SHELL}
${HELP}`,
  'add-key': `usage: qvm-block-split add-key [--yes] [--key-file=...] [--new-key-file=...] [--key-slot=N] [<kdf options>] <src-vm>:<device>

Adds a key slot with a new passphrase (or key file), authorized by an existing one; LUKS1 and LUKS2.
${KEYSLOT_PIPELINE}

options:
${YES}
${KEY_FILE}
${NEW_KEY_FILE}
  --key-slot=N               the key slot to fill (default: the lowest free one)
${KDF}
${HELP}`,
  'change-key': `usage: qvm-block-split change-key [--yes] [--key-file=...] [--new-key-file=...] [<kdf options>] <src-vm>:<device>

Replaces the secret of the key slot the existing passphrase (or key file) opens with a new one; the slot keeps its number,
its old key material is overwritten. LUKS1 and LUKS2.
${KEYSLOT_PIPELINE}

options:
${YES}
${KEY_FILE}
${NEW_KEY_FILE}
${KDF}
${HELP}`,
  'remove-key': `usage: qvm-block-split remove-key [--yes] [--key-file=...] [--force] <src-vm>:<device>

Removes the key slot the passphrase (or key file) opens and overwrites its key material. The last key slot is removed only
with --force: the data can then never be decrypted again. LUKS1 and LUKS2.
${KEYSLOT_PIPELINE}

options:
${YES}
${KEY_FILE}
  --force                    remove the last key slot too
${HELP}`,
  upgrade: `usage: qvm-block-split upgrade [--yes] [--key-file=...] [--iter-time=MS|--pbkdf-force-iterations=N] [--pbkdf-memory=KiB] <src-vm>:<device>

Re-wraps the key slot the passphrase (or key file) opens with Argon2id (as cryptsetup luksConvertKey; default cost: 256 MiB,
4 lanes, passes for 5 s measured in the header DisposableVM), overwriting its old key material. A LUKS1 volume is first
converted to LUKS2 in place, as cryptsetup convert does; where the LUKS2 header would not fit before the data (or luksmeta
follows the key slots), it is refused and nothing is written. The other key slots keep their KDF.
${KEYSLOT_PIPELINE}

options:
${YES}
${KEY_FILE}
  --iter-time=MS             the Argon2 unlock time (default 5000)
  --pbkdf-force-iterations=N exactly N Argon2 passes (4 to 32) instead
  --pbkdf-memory=KiB         Argon2 memory (default 262144)
${HELP}`,
  remember: `usage: qvm-block-split remember <name> [--ro] [--auto-attach] [--key-file=[<vm>:]<path>] [--type=luks1|luks2] [--data-offset=SECTORS] [<dst-vm>] <src-vm>:<device>

Attaches <src-vm>:<device> like attach, then remembers it as <name>: its source, LUKS type and UUID, destination, options, and
a pin the device VM computed from the volume key (it reveals nothing about the key). 'attach <name>' then attaches it with
those settings, and maps it only when the key gives the same pin: a substituted or re-formatted volume is refused. Any attach
of a volume whose UUID is known checks its pin too. Stored in /etc/split-dm-crypt/volumes.d/<name>.conf.

options:
  --ro                       remember it read-only
  --auto-attach              mark it for 'qvm-block-split watch' (attach when the drive appears)
${KEY_FILE}
${TYPE}
  --data-offset=SECTORS      as for attach; remembered
${HELP}`,
  forget: `usage: qvm-block-split forget <name>

Forgets the known volume <name> (removes its file). An attachment of it stays attached.

options:
${HELP}`,
  list: `usage: qvm-block-split list [--json]

Lists the known volumes, each with its source, destination and where it is now: attached (to which qube), present in its
source qube, or absent. A volume file that does not parse is listed as broken, with the file and field.

options:
  --json                     one JSON array on stdout, for scripts
${HELP}`,
  watch: `usage: qvm-block-split watch

Follows Qubes' device and qube events and attaches each known volume marked --auto-attach when its drive appears in its
source qube (and its named destination runs), and tears the attachment down when the drive goes or the destination stops.
It never prompts: a volume needs a key file, or ASKPASS set in the config (a program that asks on the desktop). Meant to run
as the systemd user unit qvm-block-split-watch.service ('systemctl --user enable --now qvm-block-split-watch'); each outcome
goes to the journal and, where notify-send exists, to a notification. A failed attach is not retried until the drive is
plugged again.

options:
${HELP}`,
  inspect: `usage: qvm-block-split inspect [--json] <src-vm>:<device>

Shows what the LUKS header on <src-vm>:<device> says, without any secret: type, UUID, cipher, sector size, where the data
starts, each key slot with its KDF and cost, and warnings (LUKS1, PBKDF2 key slots, Argon2 below 256 MiB, an unusual data
offset). The disk goes read-only to an offline device DisposableVM; only its header goes to an offline header
DisposableVM, which parses it. Nothing is written; both VMs are gone when it ends.

options:
  --json                     one JSON object on stdout, for scripts
${HELP}`,
  status: `usage: qvm-block-split status [<src-vm>:<device>]

Prints one line per attachment made by qvm-block-split (source, device VM, mapping, destination, read-only, state) and
exits with the number of attachments that have a problem.

options:
${HELP}`,
  cleanup: `usage: qvm-block-split cleanup

Finishes what interrupted commands left: half-made attachments are torn down and DisposableVMs of ours that no attachment
uses are removed. Destination DisposableVMs are left alone (they may hold your work).

options:
${HELP}`,
};

/** The help text: the tool's usage, or one command's. */
export function helpText(topic?: CommandName): string {
  return topic === undefined ? `${USAGE}\n\nRun 'qvm-block-split <command> --help' for a command's options, or see qvm-block-split(1).` : COMMANDS[topic];
}
