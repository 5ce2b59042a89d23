// `vipd import --from octavia|senlin FILE`: an OpenStack load balancer description
// (YAML or JSON) to vipd.yaml, checked as `vipd check` would. Exit codes as for
// keepalived.conf: 0 complete, 3 something left out, 2 not a readable description.

import { checked, type ImportResult } from '../render.js';
import { translateOctavia } from './octavia.js';
import { type Member, translateSenlin } from './senlin.js';
import { Spec, SpecError } from './spec.js';

export function importOpenstack(from: 'octavia' | 'senlin', file: string, opts: { output?: string; members?: readonly Member[] } = {}): ImportResult {
  try {
    const spec = new Spec(file);
    const t = from === 'octavia' ? translateOctavia(spec) : translateSenlin(spec, opts.members ?? []);
    return checked(t, opts.output ?? 'vipd.yaml');
  } catch (err) {
    if (err instanceof SpecError) return { code: 2, report: [err.message] };
    throw err;
  }
}
