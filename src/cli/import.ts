// `vipd import [--from keepalived|octavia|senlin] FILE [-o vipd.yaml] [--config-id ID] [--member A:P@W ...]`:
// the YAML to stdout or -o, the report on stderr; exit 0 complete, 3 something left out, 2 unreadable input.

import { writeFileSync } from 'node:fs';
import { importKeepalived } from '../import/keepalived/index.js';
import { importOpenstack } from '../import/openstack/index.js';
import { type Member, parseMember } from '../import/openstack/senlin.js';
import type { ImportResult } from '../import/render.js';

export function runImport(file: string, o: { from: string; output?: string; configId?: string; member?: string[] }): number {
  const output = o.output ?? '<stdout>';
  let r: ImportResult;
  if (o.from === 'keepalived') r = importKeepalived(file, { ...(o.configId !== undefined ? { configId: o.configId } : {}), output });
  else if (o.from === 'octavia' || o.from === 'senlin') {
    const members: Member[] = [];
    for (const text of o.member ?? []) {
      const m = parseMember(text);
      if (typeof m === 'string') {
        process.stderr.write(`vipd: --member ${m}; valid: 10.0.0.5, 10.0.0.5:8080, 10.0.0.5:8080@3, [2001:db8::5]:80\n`);
        return 2;
      }
      members.push(m);
    }
    if (members.length && o.from !== 'senlin') {
      process.stderr.write('vipd: --member is for --from senlin (an Octavia description lists its members)\n');
      return 2;
    }
    r = importOpenstack(o.from, file, { output, members });
  } else {
    process.stderr.write(`vipd: --from ${o.from}: valid: keepalived, octavia, senlin\n`);
    return 2;
  }
  for (const line of r.report) process.stderr.write(`${line}\n`);
  if (r.yaml === undefined) return r.code;
  if (o.output) writeFileSync(o.output, r.yaml);
  else process.stdout.write(r.yaml);
  if (r.code === 3) process.stderr.write(`vipd: import incomplete: see the lines above (the parts left out are also listed at the top of the output)\n`);
  return r.code;
}
