// Configurations the unit tests start from: what the config loader produces for a
// plain instance, with the fields a test cares about overridden; a bad config's issues; and a
// virtual server with a health check as YAML.

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
    garp: { count: 5, repeatDelayMs: 5000, refreshMs: 0, refreshCount: 1, lowerPrioCount: 5, lowerPrioDelayMs: 5000 },
    ...o,
  };
}

/** A loaded instance: VI_1 on eth0 with one VIP 10.0.0.100/24, 0.1 s adverts, one gratuitous ARP. */
export function instanceConfig(o: Partial<VrrpInstanceConfig> = {}): VrrpInstanceConfig {
  const iface = o.interface ?? 'eth0';
  const yaml = `vrrp_instances:\n  VI_1: {interface: ${iface}, vrid: 51, advert_int: 0.1, virtual_ipaddress: [10.0.0.100/24], garp_master_repeat: 1, garp_master_delay: 0}\n`;
  return { ...parseConfig(yaml, 'fixture.yaml').instances[0]!, ...o };
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

/** Virtual server `web` (10.0.0.100:80, rr) with an HTTP check (`hc`) and two real servers, 10.0.1.1 (weight 3) and 10.0.1.2 (weight 2); `extra` lines go before `real_servers`. */
export const webService = (extra = '', hc = 'health_check: {type: HTTP, delay: 1, timeout: 0.5, max_retries: 2, max_retries_down: 3, url_path: /health, expected_codes: "200-204"}') => `virtual_servers:
  web:
    address: 10.0.0.100
    port: 80
    scheduler: rr
    ${hc}
${extra}    real_servers:
      - {address: 10.0.1.1, port: 8080, weight: 3}
      - {address: 10.0.1.2, port: 8080, weight: 2}
`;
