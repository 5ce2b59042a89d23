// Sync groups (keepalived vrrp_sync_group): instances that fail over together,
// e.g. the outside VIP and the inside gateway VIP of a NAT director. Pure rules;
// the router applies the commands to the members' state machines.
//
// - FAULT is level-triggered: while any member's own links are in FAULT, every
//   other member is held in FAULT too.
// - MASTER and BACKUP are edge-triggered: when a member moves between them on
//   its own (timer, advert), the others are forced the same way. Transitions
//   the group itself forced do not propagate again.

import type { VrrpState } from './fsm-types.js';

export interface MemberView {
  name: string;
  state: VrrpState;
  /** The member's own tracked links are down (not a fault the group imposed). */
  ownFault: boolean;
}

export type GroupCommand =
  | { member: string; kind: 'force'; to: 'MASTER' | 'BACKUP'; reason: string }
  | { member: string; kind: 'group-fault'; on: boolean };

/** Whether each member must be held in FAULT because another member is. */
export function groupFaults(members: MemberView[]): GroupCommand[] {
  return members.map((m) => ({
    member: m.name,
    kind: 'group-fault' as const,
    on: members.some((o) => o !== m && o.ownFault),
  }));
}

/** Commands that follow from `changed` moving on its own from `from` to `to`. */
export function propagate(
  group: string,
  members: MemberView[],
  changed: string,
  from: VrrpState,
  to: VrrpState,
): GroupCommand[] {
  const moveTo = to === 'MASTER' ? 'MASTER' : to === 'BACKUP' && from === 'MASTER' ? 'BACKUP' : undefined;
  if (!moveTo) return [];
  return members
    .filter((m) => m.name !== changed && m.state !== moveTo && (m.state === 'MASTER' || m.state === 'BACKUP'))
    .map((m) => ({
      member: m.name,
      kind: 'force' as const,
      to: moveTo,
      reason: `sync group ${group}: ${changed} became ${moveTo}`,
    }));
}

/**
 * The group's own state, for its notify scripts: FAULT if any member is,
 * MASTER or BACKUP once every member is there; undefined while members are
 * still moving (or stopped).
 */
export function groupState(members: MemberView[]): VrrpState | undefined {
  if (members.some((m) => m.state === 'FAULT')) return 'FAULT';
  const first = members[0]?.state;
  if (first && first !== 'INIT' && members.every((m) => m.state === first)) return first;
  return undefined;
}
