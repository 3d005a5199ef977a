// The least a qrexec service written for Node can do at start, with nothing of ours and no dependency: load child_process (every
// device service runs dmsetup, blockdev or cryptsetup), read its request from stdin as a stream to the end, write a short framed
// reply and exit 1, as a service does when its request is missing. CommonJS, since Node's ES module loader costs more: this is a
// lower bound for any bundle's start-up, measured beside them by cold-start.ts.
'use strict';
require('node:child_process');
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  process.stdout.write(Buffer.from([0, 0, 0, 1, 0xc0]));
  process.exitCode = 1;
});
