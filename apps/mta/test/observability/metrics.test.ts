import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/observability/metrics';
import { type MetricsServer, startMetricsServer } from '../../src/server/observability/metrics-server';

const started: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.close()));
});

async function serve(metrics = createMetrics(), host = '127.0.0.1') {
  const server = await startMetricsServer({ addresses: [{ host, port: 0 }], metrics });
  started.push(server);
  const { port } = server.addresses[0]!;
  const base = host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
  return { metrics, server, base };
}

/** The value of one sample in Prometheus text, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics over HTTP', { timeout: 20_000 }, () => {
  it('serves every counter with its labels, as a scraper reads them', async () => {
    const { metrics, base } = await serve();
    metrics.connectionOpened('mx');
    metrics.connectionOpened('mx');
    metrics.connectionOpened('submission');
    metrics.connectionClosed('mx');
    metrics.messageAccepted('mx');
    metrics.messageRejected('relay');
    metrics.messageRejected('relay');
    metrics.messageRejected('unknown-user');
    metrics.junked('fcrdns');
    metrics.localDelivery('ok', 'Junk');
    metrics.localDelivery('deferred', 'INBOX');
    metrics.dnsFailure('spf');
    metrics.setQueueSizeSource(async () => ({ pending: 3, deferred: 2, held: 1 }));
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const expected: [string, number][] = [
      ['homing_connections_total{listener="mx"}', 2],
      ['homing_connections_total{listener="submission"}', 1],
      ['homing_connections_total{listener="submissions"}', 0],
      ['homing_connections_open{listener="mx"}', 1],
      ['homing_connections_open{listener="submission"}', 1],
      ['homing_messages_accepted_total{listener="mx"}', 1],
      ['homing_messages_rejected_total{reason="relay"}', 2],
      ['homing_messages_rejected_total{reason="unknown-user"}', 1],
      ['homing_messages_junked_total{filter="fcrdns"}', 1],
      ['homing_local_deliveries_total{result="ok",folder="Junk"}', 1],
      ['homing_local_deliveries_total{result="deferred",folder="INBOX"}', 1],
      ['homing_local_deliveries_total{result="failed",folder="INBOX"}', 0],
      ['homing_dns_failures_total{check="spf"}', 1],
      ['homing_queue_messages{state="pending"}', 3],
      ['homing_queue_messages{state="deferred"}', 2],
      ['homing_queue_messages{state="held"}', 1],
    ];
    for (const [series, value] of expected) expect(sample(text, series), series).toBe(value);
    // prom-client's default process metrics are there too.
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE homing_connections_total counter');
  });

  it('reads the queue size at each scrape, and leaves it out (counting the error) when the read fails', async () => {
    const { metrics, base } = await serve();
    let pending = 1;
    let broken = false;
    metrics.setQueueSizeSource(async () => {
      if (broken) throw new Error('spool gone');
      return { pending: pending++, deferred: 0, held: 0 };
    });
    const scrape = async () => (await fetch(`${base}/metrics`)).text();
    expect(sample(await scrape(), 'homing_queue_messages{state="pending"}')).toBe(1);
    expect(sample(await scrape(), 'homing_queue_messages{state="pending"}')).toBe(2);
    broken = true;
    const failed = await scrape();
    expect(sample(failed, 'homing_queue_messages{state="pending"}')).toBeUndefined();
    expect(sample(failed, 'homing_queue_read_errors_total')).toBe(1);
  });

  it('keeps two servers in one process apart (own registries)', async () => {
    const one = await serve();
    const two = await serve();
    one.metrics.messageAccepted('mx');
    const text = await (await fetch(`${two.base}/metrics`)).text();
    expect(sample(text, 'homing_messages_accepted_total{listener="mx"}')).toBe(0);
  });

  it('answers 404 elsewhere and 405 to another method', async () => {
    const { base } = await serve();
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/metrics?name[]=x`)).status).toBe(200);
  });

  it('listens on IPv6 loopback too', async () => {
    const { base } = await serve(createMetrics(), '::1');
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('says which address it cannot listen on, and stops listening on close', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(
        startMetricsServer({ addresses: [{ host: '127.0.0.1', port }], metrics: createMetrics() }),
      ).rejects.toThrow(`cannot listen for metrics on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      blocker.close();
    }
    const { server, base } = await serve();
    const keepAlive = await fetch(`${base}/metrics`);
    expect(keepAlive.status).toBe(200);
    await server.close();
    await expect(fetch(`${base}/metrics`)).rejects.toThrow();
  });
});
