import type { PrismaClient, Tx } from '@tollgate/db';
import { newId } from '../lib/ids.ts';
import { unseal } from '../lib/seal.ts';
import { type SendResult, sendWebhook } from './send.ts';
import { signWebhook } from './sign.ts';

/** Pause before retry n (1-based), before jitter: ~23.7 h in all over 10 retries. */
export const RETRY_SCHEDULE_MS = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000,
  28_800_000,
];

/** Exponential-ish backoff with ±20 % jitter, so failing receivers are not hit in lockstep. */
export function defaultBackoffMs(attempt: number): number {
  const base = RETRY_SCHEDULE_MS[Math.min(attempt, RETRY_SCHEDULE_MS.length) - 1] ?? 5_000;
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export interface WebhookDispatcherOptions {
  prisma: PrismaClient;
  secretKey: Buffer;
  /** Loopback/private receivers allowed (tests, on-prem). Default false. */
  allowPrivateUrls?: boolean;
  /** Per attempt, answer included. Default 10 000. */
  timeoutMs?: number;
  /** How often to look for due deliveries when nobody kicked. Default 1 000. */
  pollMs?: number;
  /** Deliveries claimed (and sent concurrently) at once. Default 10. */
  batchSize?: number;
  /** Attempts before a delivery fails for good (and its endpoint is disabled). Default 11. */
  maxAttempts?: number;
  backoffMs?: (attempt: number) => number;
  /**
   * Failed attempts in a row, across all of an endpoint's deliveries, after which it is disabled
   * (provided it has been failing for `minFailingMs`); any 2xx resets the count. Default 50.
   */
  maxConsecutiveFailures?: number;
  /**
   * How long an endpoint must have been failing before `maxConsecutiveFailures` disables it, so a
   * burst of events during a short outage does not. Default 1 h.
   */
  minFailingMs?: number;
  /** An endpoint without a single 2xx for this long (while attempts fail) is disabled. Default 5 days. */
  maxFailingMs?: number;
  /** Bytes of the receiver's answer kept in the log. Default 1 024. */
  excerptBytes?: number;
  /** Told after an endpoint was disabled for repeated failure (emit `webhook.endpoint.disabled`). */
  onEndpointDisabled?: (endpoint: { id: string; workspaceId: string; url: string }) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export interface WebhookDispatcher {
  start(): void;
  /** Claims and sends every delivery due now, once; answers how many were claimed. */
  runOnce(): Promise<number>;
  /** Look for due deliveries now (they were just queued). */
  kick(): void;
  /** Stops claiming; attempts in flight finish and are logged first. */
  stop(): Promise<void>;
}

interface Claimed {
  id: string;
  endpointId: string;
  workspaceId: string;
  payload: unknown;
  attempts: number;
  /** This attempt's log entry, written at the claim. */
  attemptId: string;
}

/**
 * What the log says of an attempt until its outcome is recorded: while it is in flight, and for good
 * when the control plane stopped (crashed) during it — the delivery is retried when the lease ends.
 */
export const NO_OUTCOME =
  'no outcome recorded: the attempt is in flight, or the control plane stopped during it';

/**
 * The durable delivery queue's worker. Deliveries are rows (queued with their event, in the same
 * transaction); a worker claims due rows with `FOR UPDATE SKIP LOCKED`, bumping the attempt number
 * and leasing the row (its next attempt time moves past the attempt's timeout) in the same
 * statement, so two control planes never send the same attempt, and a worker that dies mid-attempt
 * only delays it until the lease ends (at least once). That statement also logs the attempt, at its
 * start and without an outcome, so an attempt cut off by a crash stays in the log (as
 * `NO_OUTCOME`); settling fills in the outcome, and reschedules the row only if it still holds this
 * attempt number.
 */
export function createWebhookDispatcher(opts: WebhookDispatcherOptions): WebhookDispatcher {
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const batchSize = opts.batchSize ?? 10;
  const maxAttempts = opts.maxAttempts ?? RETRY_SCHEDULE_MS.length + 1;
  const backoff = opts.backoffMs ?? defaultBackoffMs;
  const maxConsecutiveFailures = opts.maxConsecutiveFailures ?? 50;
  const minFailingMs = opts.minFailingMs ?? 3_600_000;
  const maxFailingMs = opts.maxFailingMs ?? 5 * 24 * 3_600_000;
  const leaseMs = timeoutMs + 30_000;
  const send = {
    timeoutMs,
    excerptBytes: opts.excerptBytes ?? 1_024,
    allowPrivateUrls: opts.allowPrivateUrls ?? false,
  };
  let stopped = true;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  let kicked = false;

  /**
   * Claims due deliveries and logs each claimed attempt as started, in one statement: the attempt
   * number is raised, the row leased, and the attempt's log entry written (at its start, without an
   * outcome) together, so an attempt cut off by a crash still shows in the log. Entries are made
   * only for rows this statement claimed (row locks, SKIP LOCKED), one per attempt number.
   */
  async function claim(): Promise<Claimed[]> {
    const at = new Date(now());
    // Ids for the entries, handed out in claim order (row_number): at most one per claimed row.
    const ids = Array.from({ length: batchSize }, () => newId('wha'));
    return opts.prisma.$queryRaw<Claimed[]>`
      WITH claimed AS (
        UPDATE "WebhookDelivery" d
        SET attempts = d.attempts + 1, "nextAttemptAt" = ${new Date(at.getTime() + leaseMs)},
          "updatedAt" = ${at}
        FROM (
          SELECT wd.id FROM "WebhookDelivery" wd
          JOIN "WebhookEndpoint" e ON e.id = wd."endpointId"
          WHERE wd.status = 'pending' AND wd."nextAttemptAt" <= ${at} AND e.status = 'enabled'
          ORDER BY wd."nextAttemptAt"
          LIMIT ${batchSize}
          FOR UPDATE OF wd SKIP LOCKED
        ) due
        WHERE d.id = due.id
        RETURNING d.id, d."endpointId", d."workspaceId", d.payload, d.attempts
      ),
      numbered AS (
        SELECT c.*, (${ids}::text[])[row_number() OVER ()] AS "attemptId" FROM claimed c
      ),
      logged AS (
        INSERT INTO "WebhookAttempt" (id, "deliveryId", attempt, "statusCode", error, "durationMs", "createdAt")
        SELECT "attemptId", id, attempts, NULL, ${NO_OUTCOME}, 0, ${at} FROM numbered
      )
      SELECT id, "endpointId", "workspaceId", payload, attempts, "attemptId" FROM numbered`;
  }

  async function deliver(d: Claimed): Promise<void> {
    const endpoint = await opts.prisma.webhookEndpoint.findUnique({ where: { id: d.endpointId } });
    if (!endpoint) return; // deleted meanwhile: its deliveries went with it (cascade)
    const body = JSON.stringify(d.payload);
    // During a rotation's overlap the previous secret signs too, so receivers can switch over.
    const secrets = [unseal(opts.secretKey, endpoint.sealedSecret)];
    if (
      endpoint.previousSealedSecret &&
      endpoint.previousSecretExpiresAt &&
      endpoint.previousSecretExpiresAt.getTime() > now()
    ) {
      secrets.push(unseal(opts.secretKey, endpoint.previousSealedSecret));
    }
    const headers = signWebhook(secrets, d.id, Math.floor(now() / 1000), body);
    const result = await sendWebhook(endpoint.url, headers, body, send);
    const disabled = await settle(d, result);
    if (disabled) {
      opts.onEndpointDisabled?.({
        id: endpoint.id,
        workspaceId: endpoint.workspaceId,
        url: endpoint.url,
      });
    }
  }

  /**
   * Keeps the endpoint's failure streak (across all its deliveries) and disables it when the
   * streak is long enough; answers true when this attempt disabled it.
   */
  async function track(tx: Tx, d: Claimed, r: SendResult): Promise<boolean> {
    const at = new Date(now());
    if (r.ok) {
      await tx.webhookEndpoint.updateMany({
        where: {
          id: d.endpointId,
          OR: [{ consecutiveFailures: { gt: 0 } }, { failingSince: { not: null } }],
        },
        data: { consecutiveFailures: 0, failingSince: null },
      });
      return false;
    }
    const [row] = await tx.$queryRaw<
      { consecutiveFailures: number; failingSince: Date; status: string }[]
    >`
      UPDATE "WebhookEndpoint"
      SET "consecutiveFailures" = "consecutiveFailures" + 1,
        "failingSince" = COALESCE("failingSince", ${at})
      WHERE id = ${d.endpointId}
      RETURNING "consecutiveFailures", "failingSince", status`;
    if (row?.status !== 'enabled') return false;
    const failingFor = at.getTime() - new Date(row.failingSince).getTime();
    const streak = row.consecutiveFailures >= maxConsecutiveFailures && failingFor >= minFailingMs;
    if (!streak && failingFor < maxFailingMs) return false;
    const off = await tx.webhookEndpoint.updateMany({
      where: { id: d.endpointId, status: 'enabled' },
      data: { status: 'disabled' },
    });
    return off.count > 0;
  }

  /**
   * Completes the attempt's log entry (written at the claim, and keeping its start time) with the
   * outcome, and reschedules; answers true when this disabled the endpoint.
   */
  async function settle(d: Claimed, r: SendResult): Promise<boolean> {
    const finalFailure = !r.ok && d.attempts >= maxAttempts;
    return opts.prisma.$transaction(async (tx: Tx) => {
      await tx.webhookAttempt.updateMany({
        where: { id: d.attemptId },
        data: {
          statusCode: r.statusCode,
          error: r.error,
          responseExcerpt: r.responseExcerpt,
          durationMs: r.durationMs,
        },
      });
      const next = r.ok
        ? { status: 'succeeded' }
        : finalFailure
          ? { status: 'failed' }
          : { nextAttemptAt: new Date(now() + backoff(d.attempts)) };
      const { count } = await tx.webhookDelivery.updateMany({
        where: { id: d.id, attempts: d.attempts, status: 'pending' },
        data: next,
      });
      if (await track(tx, d, r)) return true;
      // Exactly the last scheduled attempt disables the endpoint; a replayed delivery failing
      // again (attempts beyond the schedule) only fails itself.
      if (count === 0 || !finalFailure || d.attempts !== maxAttempts) return false;
      const off = await tx.webhookEndpoint.updateMany({
        where: { id: d.endpointId, status: 'enabled' },
        data: { status: 'disabled' },
      });
      return off.count > 0;
    });
  }

  async function runOnce(): Promise<number> {
    const due = await claim();
    await Promise.all(due.map((d) => deliver(d).catch((err) => opts.onError?.(err))));
    return due.length;
  }

  async function run() {
    while (!stopped) {
      let claimed = 0;
      try {
        claimed = await runOnce();
      } catch (err) {
        opts.onError?.(err);
      }
      if (stopped) break;
      if (claimed >= batchSize) continue;
      if (kicked) {
        kicked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, opts.pollMs ?? 1_000);
        function done() {
          clearTimeout(timer);
          wake = null;
          resolve();
        }
        wake = done;
      });
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    runOnce,
    kick() {
      kicked = true;
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      loop = null;
    },
  };
}
