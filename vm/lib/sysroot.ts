// Where a VM's /dev, /sys, /run and /etc are. `/` in a real VM; the simulator gives each simulated VM its own tree.

/** The path of an absolute VM path inside the current root. */
export function vmPath(absolute: string): string {
  const root = process.env.SPLIT_DM_CRYPT_SYSROOT ?? '/';
  return root === '/' ? absolute : `${root.replace(/\/+$/, '')}${absolute}`;
}
