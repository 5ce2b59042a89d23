// vipd(8), README and `vipd --help` describe the same command line: every command and
// every option the CLI accepts is in the man page's synopsis and in README's "Running it".

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const help = (...args: string[]) => execFileSync(process.execPath, [`${root}/bin/vipd.js`, ...args, '--help'], { encoding: 'utf8' });
// The man page as a reader sees it: roff escapes for '-' removed.
const man = readFileSync(`${root}/man/vipd.8`, 'utf8').replace(/\\-/g, '-');
const readme = readFileSync(`${root}/README.md`, 'utf8');

const commands = [...help().matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');

describe('vipd --help, vipd(8) and README agree', () => {
  it('the CLI has the commands the man page documents', () => {
    expect(commands).toEqual(['run', 'check', 'status', 'rs', 'reload', 'withdraw', 'import']);
    for (const c of commands) {
      expect(man, `vipd(8) SYNOPSIS lacks "vipd ${c}"`).toMatch(new RegExp(`^\\.B vipd ${c}\\b`, 'm'));
      expect(man, `vipd(8) COMMANDS lacks ${c}`).toMatch(new RegExp(`^\\.B ${c}\\b`, 'm'));
      expect(readme, `README lacks "vipd ${c}"`).toMatch(new RegExp(`^vipd ${c}\\b`, 'm'));
    }
  });

  it.each(['run', 'check', 'status', 'rs', 'reload', 'import'])('every option of "vipd %s" is in vipd(8)', (c) => {
    const options = [...help(c).matchAll(/^ {2}(?:(-\w), )?(--[\w-]+)/gm)].filter((m) => m[2] !== '--help');
    expect(options.length).toBeGreaterThan(0);
    // The command's lines in SYNOPSIS: from ".B vipd CMD" to the next .br or section.
    const synopsis = new RegExp(`^\\.B vipd ${c}\\b[\\s\\S]*?(?=^\\.br|^\\.SH)`, 'm').exec(man)?.[0] ?? '';
    for (const [, short, long] of options) {
      expect(man, `vipd(8) lacks ${long}`).toContain(long);
      expect(synopsis, `the synopsis of vipd ${c} lacks ${short ?? long}`).toContain(short ?? long!);
    }
  });
});
