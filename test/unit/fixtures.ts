// Configurations the unit tests start from: what the config loader would produce for a
// plain instance, with the fields a test cares about overridden; and a bad config's issues.

import { expect } from 'vitest';
import { ConfigError } from '../../src/config/reader.js';
import { parseConfig } from '../../src/config/parse.js';
import type { VrrpInstanceConfig } from '../../src/config/types.js';
import type { FsmConfig } from '../../src/vrrp/fsm-types.js';

/** The state machine's view of VI_1 (vrid 51, priority 100, v3, 1 s adverts). */
export function fsmConfig(o: Partial<FsmConfig> = {}): FsmConfig {
  return {
    name: 'VI_1',
    vrid: 51,
    version: 3,
    priority: 100,
    advertIntervalCs: 100,
    preempt: true,
    preemptDelayMs: 0,
    answerLowerPriority: true,
    unicastPeers: [],
    checkUnicastSrc: true,
    garp: { repeatDelayMs: 5000, refreshMs: 0 },
    ...o,
  };
}

/** A loaded instance: VI_1 on eth0 with one VIP 10.0.0.100/24, 0.1 s adverts, one gratuitous ARP. */
export function instanceConfig(o: Partial<VrrpInstanceConfig> = {}): VrrpInstanceConfig {
  const iface = o.interface ?? 'eth0';
  return {
    name: 'VI_1',
    interface: iface,
    vrid: 51,
    priority: 100,
    advertIntervalCs: 10,
    version: 3,
    v3Checksum: 'pseudo-header',
    virtualIps: [{ address: '10.0.0.100', prefix: 24, device: iface }],
    unicastPeers: [],
    unicastTtl: 255,
    checkUnicastSrc: true,
    preempt: true,
    preemptDelayMs: 0,
    answerLowerPriority: true,
    trackInterfaces: [],
    notify: {},
    garp: { count: 1, intervalMs: 0, repeatDelayMs: 0, refreshMs: 0 },
    ...o,
  } as VrrpInstanceConfig;
}

/** The issues of a bad config text, as `line:col path: message` (it must be rejected). */
export function configIssues(text: string): string[] {
  try {
    parseConfig(text, 'f.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}
