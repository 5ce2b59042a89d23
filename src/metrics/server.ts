// The /metrics endpoint: a plain HTTP server on the main thread, bound to
// metrics.listen. It does little per request (one snapshot, shared by concurrent
// scrapes) so the VRRP adverts on this thread keep their time. A reload that
// changes the address binds the new one first and only then closes the old; if
// the new one cannot be bound the old one keeps serving and the log says so.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { VipdMetrics } from './registry.js';
import { ScrapeAborted, type Sink } from './table.js';

/** The response as the table's sink: a chunk is the pool's again once the socket has taken it. */
function responseSink(res: http.ServerResponse): Sink {
  return {
    write: (chunk, written) => res.write(chunk, () => written()),
    drained: () =>
      new Promise<void>((resolve) => {
        const go = (): void => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.on('drain', go);
        res.on('close', go);
      }),
    get closed() {
      return res.destroyed;
    },
  };
}

/** A bind failure in words an operator can act on. */
export function bindError(listen: string, host: string, err: NodeJS.ErrnoException): string {
  const fix =
    err.code === 'EADDRNOTAVAIL'
      ? `this host has no address ${host}: set metrics.listen to one of its addresses (e.g. 127.0.0.1:PORT)`
      : err.code === 'EADDRINUSE'
        ? 'another process listens on that port: stop it or choose another port in metrics.listen'
        : err.code === 'EACCES'
          ? 'permission denied for that port: choose a port above 1023 or run vipd as root'
          : 'check metrics.listen';
  return `metrics.listen ${listen}: cannot listen (${err.code ?? err.message}): ${fix}`;
}

function listen(cfg: MetricsConfig, handler: http.RequestListener): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handler);
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(bindError(cfg.listen, cfg.host, err))));
    server.listen({ host: cfg.host, port: cfg.port, exclusive: true }, () => {
      server.removeAllListeners('error');
      server.on('error', () => undefined);
      resolve(server);
    });
  });
}

export class MetricsEndpoint {
  private server: http.Server | undefined;
  private cfg: MetricsConfig | undefined;

  constructor(
    private readonly metrics: VipdMetrics,
    private readonly log: Logger,
  ) {}

  private readonly handle: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('vipd: the metrics are at /metrics\n');
      return;
    }
    this.metrics.begin().then(
      async (scraping) => {
        // No content-length: the text is written as it is made (chunked), never whole in memory.
        res.writeHead(200, { 'content-type': this.metrics.contentType });
        try {
          if (req.method !== 'HEAD') await scraping.write(responseSink(res));
          res.end();
        } catch (err) {
          // Headers are out: a cut connection, not a 200 with half a text, tells Prometheus the scrape failed.
          if (!(err instanceof ScrapeAborted)) this.log.error({ event: 'metrics-scrape-failed', err: (err as Error).message }, `metrics scrape failed: ${(err as Error).message}`);
          res.destroy();
        } finally {
          scraping.done();
        }
      },
      (err: Error) => {
        this.log.error({ event: 'metrics-scrape-failed', err: err.message }, `metrics scrape failed: ${err.message}`);
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`vipd: scrape failed: ${err.message}\n`);
      },
    );
  };

  /** The address bound (tests ask for port 0). */
  get address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  /** At start: a failure throws (vipd does not start half-observable). */
  async start(cfg: MetricsConfig | undefined): Promise<void> {
    if (!cfg) return;
    this.server = await listen(cfg, this.handle);
    this.cfg = cfg;
    this.log.info({ event: 'metrics-listening', listen: cfg.listen }, `metrics: serving http://${cfg.listen}/metrics`);
  }

  /** On reload: rebinds if the address changed; a failure keeps the old endpoint and is logged. */
  async reconfigure(cfg: MetricsConfig | undefined): Promise<void> {
    if (cfg?.listen === this.cfg?.listen) return;
    if (!cfg) {
      await this.close();
      this.log.info({ event: 'metrics-stopped' }, 'metrics: endpoint turned off (metrics removed from the config)');
      return;
    }
    let next: http.Server;
    try {
      next = await listen(cfg, this.handle);
    } catch (err) {
      const old = this.cfg ? `; still serving on ${this.cfg.listen}` : '; no metrics endpoint is running';
      this.log.error({ event: 'metrics-rebind-failed', listen: cfg.listen, err: (err as Error).message }, `${(err as Error).message}${old}`);
      return;
    }
    const before = this.cfg?.listen;
    await this.close();
    this.server = next;
    this.cfg = cfg;
    this.log.info({ event: 'metrics-listening', listen: cfg.listen }, `metrics: serving http://${cfg.listen}/metrics${before ? ` (was ${before})` : ''}`);
  }

  close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.cfg = undefined;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
