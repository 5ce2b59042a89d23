// keepalived's global SSL block (the context every SSL_GET uses) -> the keys of
// each imported HTTPS check: `certificate` and `key` become cert_file / key_file
// (the client certificate). keepalived loads `ca` as trusted CAs but sets no
// verification mode (OpenSSL's client default, SSL_VERIFY_NONE): a server's
// certificate is not checked, so the checks keep verify: false with the file
// named. vipd reads unencrypted keys only: `password` is reported.

import { type Ctx, arg, walk } from './context.js';
import type { Stmt, Word } from './syntax.js';
import type { Obj, Out } from './vrrp.js';

interface Ssl {
  kw: Word;
  ca?: string;
  certificate?: string;
  key?: string;
}

const blocks = new WeakMap<Out, Ssl>();

const path = (key: keyof Ssl) => (t: Ssl, s: Stmt, ctx: Ctx) => {
  const a = arg(s, ctx);
  if (!a) return;
  if (!a.text.startsWith('/')) return ctx.leftOut(a, `${s.words[0]!.text} "${a.text}" is not an absolute path (vipd needs one; keepalived read it from its working directory)`);
  (t as unknown as Record<string, string>)[key] = a.text;
};

/** The SSL block: read now, applied to the HTTPS checks once every virtual server is read (sslChecks). */
export function sslBlock(o: Out, s: Stmt, ctx: Ctx): void {
  const t: Ssl = { kw: s.words[0]! };
  walk(s.block ?? [], {
    ca: path('ca'),
    certificate: path('certificate'),
    key: path('key'),
    password: (_t, w) => ctx.leftOut(w.words[0]!, 'vipd reads an unencrypted key only: decrypt it (openssl pkey -in KEY -out NEW_KEY) and keep NEW_KEY root-only'),
  }, t, ctx, (k) => `keepalived's SSL block has no "${k}" (valid: password, ca, certificate, key)`);
  if ((t.certificate === undefined) !== (t.key === undefined)) {
    ctx.leftOut(t.kw, `a client certificate needs its key and a key its certificate: ${t.certificate ? 'certificate' : 'key'} dropped`);
    delete t.certificate;
    delete t.key;
  }
  blocks.set(o, t);
}

const isHttps = (hc: unknown): hc is Obj => typeof hc === 'object' && hc !== null && (hc as Obj).type === 'HTTPS';

/** Every imported SSL_GET check: the SSL block's client certificate and CA file. */
export function sslChecks(o: Out, ctx: Ctx): void {
  const t = blocks.get(o);
  if (!t) return;
  let n = 0;
  for (const vs of Object.values(o.virtual_servers)) {
    const lists = [vs.health_check ? [vs.health_check] : [], (vs.health_checks as unknown[]) ?? [], ...((vs.real_servers as Obj[]) ?? []).map((rs) => (rs.health_checks as unknown[]) ?? [])];
    for (const hc of lists.flat().filter(isHttps)) {
      n++;
      if (t.certificate !== undefined) Object.assign(hc, { cert_file: t.certificate, key_file: t.key });
      if (t.ca !== undefined) Object.assign(hc, { ca_file: t.ca, verify: false });
    }
  }
  if (t.ca !== undefined && n) ctx.note(t.kw, 'keepalived loads ca but does not verify the server\'s certificate: the checks keep verify: false (set verify: true to verify against ca_file)');
  if (!n && (t.ca !== undefined || t.certificate !== undefined)) ctx.note(t.kw, 'no SSL_GET check uses it');
}
