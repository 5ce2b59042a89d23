import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../src/net/rtnl.js';

describe('route lookup over a dump (longest prefix, local table first)', () => {
  const t = new RouteTable([
    { family: 'inet', dstLen: 0, table: 254, type: 'unicast', gateway: '192.0.2.1', oif: 2 },
    { family: 'inet', dst: '192.0.2.0', dstLen: 24, table: 254, type: 'unicast', oif: 2 },
    { family: 'inet', dst: '10.9.0.0', dstLen: 16, table: 254, type: 'unreachable' },
    { family: 'inet', dst: '10.9.8.0', dstLen: 23, table: 254, type: 'unicast', gateway: '192.0.2.9', oif: 2 },
    { family: 'inet', dst: '192.0.2.2', dstLen: 32, table: 255, type: 'local', oif: 2 },
    { family: 'inet6', dst: '2001:db8::', dstLen: 64, table: 254, type: 'unicast', oif: 3 },
  ]);
  it.each([
    ['192.0.2.2', { type: 'local', oif: 2 }],
    ['192.0.2.77', { type: 'unicast', oif: 2 }],
    ['10.9.9.1', { type: 'unicast', oif: 2, gateway: '192.0.2.9' }],
    ['10.9.7.1', { type: 'unreachable' }],
    ['8.8.8.8', { type: 'unicast', oif: 2, gateway: '192.0.2.1' }],
    ['2001:db8::5', { type: 'unicast', oif: 3 }],
    ['2001:db9::5', { type: 'unreachable' }],
  ])('%s', (addr, want) => {
    expect(t.lookup(addr)).toEqual(want);
  });
});
