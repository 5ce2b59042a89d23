// keepalived's script command lines (quotes, escapes; argv[0] an absolute path),
// script users (script_user, a script's own user/group) and the notify FIFO line.

import { describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../src/config/command.js';
import { parseConfig } from '../../src/config/parse.js';
import { fifoLine } from '../../src/vrrp/notify-fifo.js';
import { configIssues } from './fixtures.js';

const MIN = `vrrp_instances:
  VI_1:
    interface: eth0
    vrid: 51
    virtual_ipaddress: [192.0.2.100/24]
`;

describe('command lines, as keepalived splits them', () => {
  it('unquoted whitespace separates words; quotes group and are removed; backslash escapes', () => {
    expect(splitCommandLine('/x.sh MASTER')).toEqual({ argv: ['/x.sh', 'MASTER'] });
    expect(splitCommandLine('  /x.sh   a\tb  ')).toEqual({ argv: ['/x.sh', 'a', 'b'] });
    expect(splitCommandLine(`/x.sh 'two words' "and three more"`)).toEqual({ argv: ['/x.sh', 'two words', 'and three more'] });
    // keepalived.conf(5): abcd" efg h jkl "mnop is the single string "abcd efg h jkl mnop".
    expect(splitCommandLine('abcd" efg h jkl "mnop')).toEqual({ argv: ['abcd efg h jkl mnop'] });
    expect(splitCommandLine('abcd "efg h jkl" mnop')).toEqual({ argv: ['abcd', 'efg h jkl', 'mnop'] });
    expect(splitCommandLine(String.raw`/x.sh a\ b "q\"uote" 'back\slash' ''`)).toEqual({ argv: ['/x.sh', 'a b', 'q"uote', 'back\\slash', ''] });
  });

  it('an unterminated quote or a trailing backslash is an error', () => {
    expect(splitCommandLine(`/x.sh 'open`)).toEqual({ error: 'has an unterminated single quote' });
    expect(splitCommandLine('/x.sh "open')).toEqual({ error: 'has an unterminated double quote' });
    expect(splitCommandLine('/x.sh \\')).toEqual({ error: 'ends with a lone backslash' });
  });
});

describe('notify keys in the config', () => {
  it('a command line with arguments, or {command, user, group}; script_user is the default user', () => {
    const c = parseConfig(
      `global: {script_user: "root root"}
${MIN}    notify_master: "/bin/echo MASTER 'of VI_1'"
    notify: {command: /bin/echo, user: nobody, group: nogroup}
    notify_backup: /bin/true
`,
      'f.yaml',
    );
    const root = { user: 'root:root', uid: 0, gid: 0 };
    expect(c.global.scriptUser).toEqual(root);
    expect(c.instances[0]!.notify).toEqual({
      master: { argv: ['/bin/echo', 'MASTER', 'of VI_1'], runAs: root },
      any: { argv: ['/bin/echo'], runAs: { user: 'nobody:nogroup', uid: 65534, gid: 65534 } },
      backup: { argv: ['/bin/true'], runAs: root },
    });
  });

  it('errors: a relative command, a bad quote, a missing executable, unknown users and groups — each at its place', () => {
    expect(
      configIssues(`global: {script_user: no_such_user_x}
${MIN}    notify_master: "notify.sh MASTER"
    notify_backup: "/bin/echo 'open"
    notify_fault: "/no/such/script FAULT"
    notify: {command: /bin/true, user: root, group: no_such_group_x}
    notify_stop: {user: root}
`),
    ).toEqual([
      '1:23 global.script_user: no user "no_such_user_x" on this host; valid: "username [groupname]" of an existing user (and group)',
      expect.stringMatching(/^7:20 vrrp_instances\.VI_1\.notify_master: "notify.sh" must be an absolute path; valid: a command line like/),
      expect.stringMatching(/^8:20 vrrp_instances\.VI_1\.notify_backup: the command line has an unterminated single quote; valid:/),
      expect.stringMatching(/^9:19 vrrp_instances\.VI_1\.notify_fault: script \/no\/such\/script does not exist/),
      '10:53 vrrp_instances.VI_1.notify.group: no group "no_such_group_x" on this host; valid: an existing user (and group)',
      expect.stringMatching(/^11:18 vrrp_instances\.VI_1\.notify_stop: missing key "command"/),
    ]);
  });

  it('notify_fifo and vrrp_notify_fifo: absolute paths, all different', () => {
    expect(parseConfig(`global: {notify_fifo: /run/a.fifo, vrrp_notify_fifo: /run/b.fifo}\n${MIN}`, 'f.yaml').global.notifyFifos).toEqual(['/run/a.fifo', '/run/b.fifo']);
    expect(configIssues(`global: {notify_fifo: /run/a.fifo, vrrp_notify_fifo: /run/a.fifo}\n${MIN}`)).toEqual([
      expect.stringMatching(/^1:54 global\.vrrp_notify_fifo: \/run\/a\.fifo is already notify_fifo; valid: FIFO names must all be different/),
    ]);
    expect(configIssues(`global: {notify_fifo: a.fifo}\n${MIN}`)).toEqual(['1:23 global.notify_fifo: "a.fifo" is not absolute; valid: an absolute path']);
  });
});

describe('the notify FIFO line', () => {
  it("is keepalived's: TYPE \"NAME\" STATE PRIORITY and a newline", () => {
    expect(fifoLine('INSTANCE', 'VI_1', 'MASTER', 100)).toBe('INSTANCE "VI_1" MASTER 100\n');
    expect(fifoLine('GROUP', 'G1', 'BACKUP', 0)).toBe('GROUP "G1" BACKUP 0\n');
  });
});
