// `vipd import [--from keepalived] FILE [-o vipd.yaml] [--config-id ID]`: the YAML to
// stdout or -o, the report on stderr; exit 0 complete, 3 something left out, 2 bad syntax.

import { writeFileSync } from 'node:fs';
import { importKeepalived } from '../import/keepalived/index.js';

export function runImport(file: string, o: { from: string; output?: string; configId?: string }): number {
  if (o.from !== 'keepalived') {
    process.stderr.write(`vipd: --from ${o.from}: valid: keepalived\n`);
    return 2;
  }
  const r = importKeepalived(file, { ...(o.configId !== undefined ? { configId: o.configId } : {}), output: o.output ?? '<stdout>' });
  for (const line of r.report) process.stderr.write(`${line}\n`);
  if (r.yaml === undefined) return r.code;
  if (o.output) writeFileSync(o.output, r.yaml);
  else process.stdout.write(r.yaml);
  if (r.code === 3) process.stderr.write(`vipd: import incomplete: see the lines above (the parts left out are also listed at the top of the output)\n`);
  return r.code;
}
