// Tracking arithmetic, keepalived's rules (keepalived.conf(5) 2.2): weight 0 = FAULT
// while down, a positive weight added while up, a negative one while down, reverse
// flips the direction, track_file values times the weight, priority within 1..254,
// an address owner never moved.

import { describe, expect, it } from 'vitest';
import { trackDelta, trackEffect } from '../../src/vrrp/track.js';

const link = (up: boolean, weight: number, reverse = false) => ({ what: 'tracked interface eth1', weight, reverse, up });

describe('track_interface / track_script weights', () => {
  it('weight 0: FAULT while down, nothing while up; reverse: FAULT while up', () => {
    expect(trackDelta(link(false, 0))).toEqual({ fault: 'tracked interface eth1 is down' });
    expect(trackDelta(link(true, 0))).toBe(0);
    expect(trackDelta(link(true, 0, true))).toEqual({ fault: 'tracked interface eth1 is up (reverse)' });
    expect(trackDelta(link(false, 0, true))).toBe(0);
  });

  it('a positive weight is added while up and not while down (not the other way round)', () => {
    expect(trackDelta(link(true, 20))).toBe(20);
    expect(trackDelta(link(false, 20))).toBe(0);
    expect(trackEffect(100, [link(true, 20)]).priority).toBe(120);
    expect(trackEffect(100, [link(false, 20)]).priority).toBe(100);
  });

  it('a negative weight is subtracted while down, nothing while up', () => {
    expect(trackEffect(150, [link(false, -60)]).priority).toBe(90);
    expect(trackEffect(150, [link(true, -60)]).priority).toBe(150);
  });

  it('reverse: a positive weight is subtracted while up, a negative one added while down', () => {
    expect(trackEffect(100, [link(true, 20, true)]).priority).toBe(80);
    expect(trackEffect(100, [link(false, 20, true)]).priority).toBe(100);
    expect(trackEffect(100, [link(false, -20, true)]).priority).toBe(120);
    expect(trackEffect(100, [link(true, -20, true)]).priority).toBe(100);
  });

  it('the effective priority stays within 1..254; several trackers add up', () => {
    expect(trackEffect(250, [link(true, 20)]).priority).toBe(254);
    expect(trackEffect(10, [link(false, -60)]).priority).toBe(1);
    const e = trackEffect(100, [link(true, 10), { ...link(false, -30), what: 'script chk' }, link(false, 0)]);
    expect(e).toEqual({ priority: 80, faults: ['tracked interface eth1 is down'], adjustments: ['tracked interface eth1 up (+10)', 'script chk down (-30)'] });
  });

  it('an address owner (255) is not moved by tracking', () => {
    expect(trackEffect(255, [link(false, -60)]).priority).toBe(255);
    expect(trackEffect(255, [link(false, 0)]).faults).toHaveLength(1);
  });
});

describe('track_file values', () => {
  const file = (value: number, weight: number, reverse = false) => ({ what: 'track_file f', weight, reverse, up: true, value });
  it('weight 0: a non-zero value is a failure, 0 is OK', () => {
    expect(trackDelta(file(0, 0))).toBe(0);
    expect(trackDelta(file(3, 0))).toEqual({ fault: 'track_file f is 3' });
    expect(trackDelta(file(-1, 0))).toEqual({ fault: 'track_file f is -1' });
  });
  it('value x weight is added; below -253 is a FAULT', () => {
    expect(trackEffect(100, [file(5, 2)]).priority).toBe(110);
    expect(trackEffect(100, [file(-5, 2)]).priority).toBe(90);
    expect(trackEffect(100, [file(5, 2, true)]).priority).toBe(90);
    expect(trackDelta(file(-254, 1))).toEqual({ fault: 'track_file f is -254 (x 1 = -254, below -253)' });
    expect(trackDelta(file(-253, 1))).toBe(-253);
  });
});
