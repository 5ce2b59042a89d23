// test/import/corpus/every-keyword.conf holds every keyword of keepalived.conf(5)
// in global_defs, vrrp_script, track_file, vrrp_track_process, vrrp_sync_group,
// vrrp_instance, virtual_server_group, virtual_server, real_server and every
// checker, each line saying what the import must do with it: "# ok TEXT"
// (translated: no finding on the line, the output holds TEXT), "# note [TEXT]"
// (translated with a note on the line), "# left" (reported as not translated, on
// the line). Every line is accounted for: a statement without its comment fails,
// a finding on an unmarked line fails, and the output passes vipd's own check.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { importKeepalived } from '../../src/import/keepalived/index.js';

const file = join(fileURLToPath(new URL('../import/corpus', import.meta.url)), 'every-keyword.conf');
/** Blocks whose lines are values (addresses, names, routes), accounted for by the block's own line. */
const VALUE_BLOCKS = /^(group|track_interface|track_script|track_file|track_process|track_bfd|unicast_peer|virtual_ipaddress|virtual_ipaddress_excluded|virtual_routes|virtual_rules|notification_email|BFD_CHECK)\b/;

interface Mark {
  line: number;
  text: string;
  kind: 'ok' | 'note' | 'left';
  want: string;
}

function marks(): { marked: Mark[]; unmarked: { line: number; text: string; block: string }[] } {
  const marked: Mark[] = [];
  const unmarked: { line: number; text: string; block: string }[] = [];
  const openers: string[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const code = raw.replace(/#.*$/, '').trim();
    if (!code) return;
    const m = /#\s*(ok|note|left)\b\s*(.*)$/.exec(raw);
    if (code === '}') openers.pop();
    else if (m) marked.push({ line: i + 1, text: code, kind: m[1] as Mark['kind'], want: m[2]!.trim() });
    else unmarked.push({ line: i + 1, text: code, block: openers[openers.length - 1] ?? '' });
    if (code.endsWith('{')) openers.push(code);
  });
  return { marked, unmarked };
}

describe('every keyword of keepalived.conf(5)', () => {
  const r = importKeepalived(file, { configId: 'lb1' });
  const findings = new Map<number, string[]>();
  for (const l of r.report) {
    const m = /^(.*?):(\d+):\d+: (.*)$/.exec(l);
    if (m?.[1] === file) (findings.get(Number(m[2])) ?? findings.set(Number(m[2]), []).get(Number(m[2]))!).push(m[3]!);
  }
  const { marked, unmarked } = marks();

  it('the import ends incomplete (exit 3) and its output passes vipd check', () => {
    expect(r.code).toBe(3);
    expect(r.report.filter((l) => !l.startsWith(file))).toEqual([]);
    const cfg = parseConfig(r.yaml!, `${file}.yaml`);
    expect(cfg.instances.map((i) => i.name)).toEqual(['VI_1', 'VI_6', 'VI_2']);
    expect(cfg.virtualServers).toHaveLength(3);
    expect(marked.length).toBeGreaterThan(350);
  });

  it('every statement line carries what the import must do; the lines without are the values of a list block', () => {
    expect(unmarked.filter((u) => !VALUE_BLOCKS.test(u.block))).toEqual([]);
    expect(unmarked.filter((u) => findings.has(u.line)).map((u) => `${u.line}: ${findings.get(u.line)!.join('; ')}`)).toEqual([]);
  });

  it('each line is translated, noted or reported as its comment says, with file:line and why', () => {
    const wrong: string[] = [];
    for (const m of marked) {
      const f = findings.get(m.line) ?? [];
      const left = f.filter((x) => / not translated: /.test(x));
      const notes = f.filter((x) => / note: /.test(x));
      if (m.kind === 'left' && (!left.length || left.some((x) => !/: not translated: \S.{8,}/.test(x)))) wrong.push(`${m.line} ${m.text}: expected reported as not translated with why, got [${f.join('; ')}]`);
      if (m.kind !== 'left' && left.length) wrong.push(`${m.line} ${m.text}: expected translated, got [${left.join('; ')}]`);
      if (m.kind === 'note' && !notes.length) wrong.push(`${m.line} ${m.text}: expected a note`);
      if (m.kind === 'ok' && notes.length) wrong.push(`${m.line} ${m.text}: unexpected note [${notes.join('; ')}]`);
      if (m.kind !== 'left' && m.want && !r.yaml!.includes(m.want)) wrong.push(`${m.line} ${m.text}: the output lacks "${m.want}"`);
    }
    expect(wrong).toEqual([]);
  });

  it('every finding is on a line that expects one', () => {
    const expecting = new Set(marked.filter((m) => m.kind !== 'ok').map((m) => m.line));
    expect([...findings.keys()].filter((l) => !expecting.has(l))).toEqual([]);
  });
});
