import { describe, expect, it } from 'vitest';
import { groupFaults, groupState, type MemberView, propagate } from '../../src/vrrp/syncgroup.js';

const m = (name: string, state: MemberView['state'], ownFault = false): MemberView => ({ name, state, ownFault });

describe('sync groups', () => {
  it('a member with its own fault holds every other member in FAULT', () => {
    expect(groupFaults([m('A', 'FAULT', true), m('B', 'MASTER'), m('C', 'BACKUP')])).toEqual([
      { member: 'A', kind: 'group-fault', on: false },
      { member: 'B', kind: 'group-fault', on: true },
      { member: 'C', kind: 'group-fault', on: true },
    ]);
    expect(groupFaults([m('A', 'BACKUP'), m('B', 'BACKUP')]).every((c) => c.kind === 'group-fault' && !c.on)).toBe(true);
  });

  it('one member becoming MASTER forces the others to MASTER', () => {
    expect(propagate('G', [m('A', 'MASTER'), m('B', 'BACKUP'), m('C', 'FAULT')], 'A', 'BACKUP', 'MASTER')).toEqual([
      { member: 'B', kind: 'force', to: 'MASTER', reason: 'sync group G: A became MASTER' },
    ]);
  });

  it('a master yielding to BACKUP takes the others with it; BACKUP from INIT or FAULT does not', () => {
    expect(propagate('G', [m('A', 'BACKUP'), m('B', 'MASTER')], 'A', 'MASTER', 'BACKUP')).toEqual([
      { member: 'B', kind: 'force', to: 'BACKUP', reason: 'sync group G: A became BACKUP' },
    ]);
    expect(propagate('G', [m('A', 'BACKUP'), m('B', 'MASTER')], 'A', 'INIT', 'BACKUP')).toEqual([]);
    expect(propagate('G', [m('A', 'BACKUP'), m('B', 'MASTER')], 'A', 'FAULT', 'BACKUP')).toEqual([]);
    expect(propagate('G', [m('A', 'FAULT'), m('B', 'MASTER')], 'A', 'MASTER', 'FAULT')).toEqual([]);
  });

  it('group state: FAULT if any member is, else the common state, else undefined while moving', () => {
    expect(groupState([m('A', 'MASTER'), m('B', 'FAULT')])).toBe('FAULT');
    expect(groupState([m('A', 'MASTER'), m('B', 'MASTER')])).toBe('MASTER');
    expect(groupState([m('A', 'BACKUP'), m('B', 'BACKUP')])).toBe('BACKUP');
    expect(groupState([m('A', 'MASTER'), m('B', 'BACKUP')])).toBeUndefined();
    expect(groupState([m('A', 'INIT'), m('B', 'INIT')])).toBeUndefined();
  });
});
