// Generic netlink (genetlink): the 4-byte genl header and family lookup
// through the "nlctrl" controller.

import { attrsSize, attrStr, AttrView, type Body, encodeBody, writeAttrs, type Attr, type NlMessage } from './netlink.js';
import { NetlinkSocket } from './netlink-socket.js';

export const NETLINK_GENERIC = 16;
export const GENL_ID_CTRL = 0x10;
export const GENL_HDRLEN = 4;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;

/** genlmsghdr + attributes, written where the message is built. */
export function genlBody(cmd: number, version: number, attrs: readonly Attr[]): Body {
  return genlWritten(cmd, version, attrsSize(attrs), (out, off) => writeAttrs(out, off, attrs));
}

/** genlmsghdr + `size` bytes of attributes that `write` puts at the offset it is given (a caller's own field-by-field writer). */
export function genlWritten(cmd: number, version: number, size: number, write: (out: Buffer, off: number) => void): Body {
  return {
    size: GENL_HDRLEN + size,
    write(out: Buffer, off: number): void {
      out[off] = cmd;
      out[off + 1] = version;
      write(out, off + GENL_HDRLEN);
    },
  };
}

/** genlmsghdr + attributes. */
export function encodeGenl(cmd: number, version: number, attrs: readonly Attr[]): Buffer {
  return encodeBody(genlBody(cmd, version, attrs));
}

/** The message to ask nlctrl for a family's id. */
export function getFamilyRequest(name: string): Buffer {
  return encodeGenl(CTRL_CMD_GETFAMILY, 1, [attrStr(CTRL_ATTR_FAMILY_NAME, name)]);
}

/** The attributes after the genl header of a payload lying at [start, end) of `buf`, indexed in place (types up to `maxType`). */
export function genlAttrs(buf: Buffer, start = 0, end = buf.length, maxType = 8): AttrView {
  return new AttrView(buf, Math.min(start + GENL_HDRLEN, end), end, maxType);
}

export function parseFamilyReply(msgs: NlMessage[]): { id: number; name: string } | undefined {
  for (const m of msgs) {
    const a = genlAttrs(m.payload);
    const name = a.string(CTRL_ATTR_FAMILY_NAME);
    if (a.length(CTRL_ATTR_FAMILY_ID) >= 2 && name) return { id: a.u16(CTRL_ATTR_FAMILY_ID), name };
  }
  return undefined;
}

/** Resolves a generic netlink family id; ENOENT when the kernel has no such family (module not loaded). */
export function resolveFamily(sock: NetlinkSocket, name: string): number {
  const reply = parseFamilyReply(sock.request(GENL_ID_CTRL, 0, getFamilyRequest(name), `resolve generic netlink family ${name}`));
  if (!reply) throw new Error(`nlctrl returned no id for family ${name}`);
  return reply.id;
}

