// A kernel's answers to IPVS GET_SERVICE and GET_DEST dumps, byte for byte
// (linux/ip_vs.h, ip_vs_genl_fill_service, ip_vs_genl_fill_dest): what
// nlExchange returns, for the addon's readers.

import { destAttrs, serviceAttrs } from '../../src/ipvs/codec.js';
import { type DestSlice, destSlices, serviceRecords } from '../../src/ipvs/dump-records.js';
import type { DestEntry, Family, Service, ServiceEntry } from '../../src/ipvs/types.js';
import { type Attr, attrU32, encodeAttrs, NLM_F_MULTI, NLMSG_DONE, NLMSG_ERROR } from '../../src/net/netlink.js';

/** One netlink message: header (type, flags, seq), then `payload`. */
export function nlMessage(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const m = Buffer.alloc(16 + ((payload.length + 3) & ~3));
  m.writeUInt32LE(16 + payload.length, 0);
  m.writeUInt16LE(type, 4);
  m.writeUInt16LE(flags, 6);
  m.writeUInt32LE(seq, 8);
  payload.copy(m, 16);
  return m;
}

/** A GET_DEST reply: genl header (NEW_DEST), then IPVS_CMD_ATTR_DEST holding `attrs`. */
export const destReply = (seq: number, attrs: readonly Attr[]): Buffer => nlMessage(0x20, NLM_F_MULTI, seq, Buffer.concat([Buffer.from([5, 1, 0, 0]), encodeAttrs([{ type: 2 | 0x8000, value: encodeAttrs(attrs) }])]));
/** A GET_SERVICE reply: genl header (NEW_SERVICE), then IPVS_CMD_ATTR_SERVICE holding `attrs`. */
export const serviceReply = (seq: number, attrs: readonly Attr[]): Buffer => nlMessage(0x20, NLM_F_MULTI, seq, Buffer.concat([Buffer.from([1, 1, 0, 0]), encodeAttrs([{ type: 1 | 0x8000, value: encodeAttrs(attrs) }])]));
export const done = (seq: number): Buffer => nlMessage(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4));
export const nlError = (seq: number, errno: number): Buffer => {
  const b = Buffer.alloc(20);
  b.writeInt32LE(-errno, 0);
  return nlMessage(NLMSG_ERROR, 0, seq, b);
};

/** A real server as the kernel lists it: its settings, then its connection counts. */
export const kernelDestAttrs = (d: DestEntry): Attr[] => [...destAttrs(d), attrU32(7, d.activeConns), attrU32(8, d.inactiveConns), attrU32(9, d.persistentConns)];

/** The addon's slices of the dumps of services whose real servers are `dests` (request i: services[i]). */
export function slicesOf(services: readonly { family: Family; dests: readonly DestEntry[] }[], first = 1000): DestSlice[] {
  const answers = Buffer.concat(services.flatMap((s, i) => [...s.dests.map((d) => destReply(first + i, kernelDestAttrs(d))), done(first + i)]));
  return destSlices(
    answers,
    first,
    services.map((s) => s.family),
    false,
  ).slices;
}

/** The addon's reading of a service dump listing `services` (their settings as the kernel echoes them). */
export function servicesOf(services: readonly Service[], withStats = false, first = 2000): ServiceEntry[] {
  const answers = Buffer.concat([...services.map((s) => serviceReply(first, serviceAttrs(s))), done(first)]);
  return serviceRecords(answers, first, withStats).services;
}
