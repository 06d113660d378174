/**
 * The admin's financial dashboard: revenue per day (chart) and per currency, MRR/ARR,
 * subscriptions and churn, payments and failures, the credit liability (paid, promotional
 * and held, each with its share) and breakage (expired paid and promotional credits, each
 * with its share of what expired), top spenders and webhook health, for a range of UTC days. Figures are the service's, formatted only.
 */
import { type ReactNode, useCallback, useEffect, useId, useRef, useState } from 'react';
import { formatCredits, formatMoney, formatNumber, formatRate } from '../../lib/format';
import { problemMessage } from '../../lib/problems';
import { type StripeService, stripeService } from '../../services/stripe';
import { type DateRange, DateRangePicker } from './DateRangePicker';
import { RevenueChart } from './RevenueChart';
import type { AdminDashboard } from './types';

export interface AdminFinancialDashboardProps {
  service?: StripeService;
  /** The first range shown; the service's default (the last 30 days) when omitted. */
  initialRange?: DateRange;
  /** Today as a UTC day, for the presets; injectable for tests. */
  today?: string;
}

type Load =
  | { state: 'loading' }
  | { state: 'ready'; data: AdminDashboard }
  | { state: 'failed'; message: string };

const NO_ROUTE =
  'This service has no admin dashboard yet (GET /api/financial/admin/dashboard answered 404).';

export function AdminFinancialDashboard(props: AdminFinancialDashboardProps) {
  const service = props.service ?? stripeService;
  const [range, setRange] = useState<DateRange | null>(props.initialRange ?? null);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const headingId = useId();

  const latest = useRef(0);
  const initial = useRef(props.initialRange ?? null);

  const fetchRange = useCallback(
    async (wanted: DateRange | null) => {
      const request = ++latest.current;
      setLoad({ state: 'loading' });
      const answer = await service.getAdminDashboard(wanted ?? {});
      if (request !== latest.current) return; // a newer range was asked for meanwhile
      if (!answer.success) {
        const notThere = answer.error.status === 404 && answer.error.code === 'not_found';
        setLoad({ state: 'failed', message: notThere ? NO_ROUTE : problemMessage(answer.error) });
        return;
      }
      setLoad({ state: 'ready', data: answer.data });
      setRange(answer.data.range);
    },
    [service],
  );

  useEffect(() => {
    void fetchRange(initial.current);
  }, [fetchRange]);

  return (
    <section className="dashboard" aria-labelledby={headingId} aria-busy={load.state === 'loading'}>
      <div className="dashboard-head">
        <h2 id={headingId}>Financial dashboard</h2>
        <DateRangePicker
          value={range}
          onChange={(wanted) => void fetchRange(wanted)}
          disabled={load.state === 'loading'}
          today={props.today}
        />
      </div>
      {load.state === 'loading' && (
        <p className="muted" role="status">
          Loading figures…
        </p>
      )}
      {load.state === 'failed' && (
        <p className="notice notice-error" role="alert">
          {load.message}
        </p>
      )}
      {load.state === 'ready' && <Figures data={load.data} />}
    </section>
  );
}

function Figures({ data }: { data: AdminDashboard }) {
  const currencies = [
    ...new Set([
      ...data.revenue.by_currency.map((total) => total.currency),
      ...data.revenue.daily.map((day) => day.currency),
    ]),
  ].sort();
  const hooks = data.webhooks;
  const healthy = hooks.failed === 0 && hooks.dead === 0;
  return (
    <>
      <p className="muted" data-testid="dashboard-range">
        UTC days {data.range.from} to {data.range.to}, both included.
      </p>
      <div className="panels">
        <Panel title="Revenue">
          {data.revenue.by_currency.length === 0 && <p className="muted">No payments.</p>}
          {data.revenue.by_currency.map((total) => (
            <Metrics key={total.currency} caption={total.currency.toUpperCase()}>
              <Metric id={`revenue-${total.currency}-gross`} label="Gross" value={total.gross}>
                {formatMoney(total.gross, total.currency)}
              </Metric>
              <Metric id={`revenue-${total.currency}-refunded`} label="Refunded" value={total.refunded}>
                {formatMoney(total.refunded, total.currency)}
              </Metric>
              <Metric id={`revenue-${total.currency}-net`} label="Net" value={total.net}>
                {formatMoney(total.net, total.currency)}
              </Metric>
            </Metrics>
          ))}
        </Panel>
        <Panel title="Recurring revenue">
          {data.recurring.length === 0 && <p className="muted">No active subscriptions.</p>}
          {data.recurring.map((row) => (
            <Metrics key={row.currency} caption={row.currency.toUpperCase()}>
              <Metric id={`mrr-${row.currency}`} label="MRR" value={row.mrr}>
                {formatMoney(row.mrr, row.currency)}
              </Metric>
              <Metric id={`arr-${row.currency}`} label="ARR" value={row.arr}>
                {formatMoney(row.arr, row.currency)}
              </Metric>
            </Metrics>
          ))}
        </Panel>
        <Panel title="Subscriptions">
          <Metrics>
            <Count id="subscriptions-active" label="Active" value={data.subscriptions.active} />
            <Count id="subscriptions-new" label="New" value={data.subscriptions.new} />
            <Count id="subscriptions-canceled" label="Canceled" value={data.subscriptions.canceled} />
            <Metric id="subscriptions-churn" label="Churn" value={data.subscriptions.churn_rate}>
              {formatRate(data.subscriptions.churn_rate)}
            </Metric>
          </Metrics>
        </Panel>
        <Panel title="Payments">
          <Metrics>
            <Count id="payments-succeeded" label="Succeeded" value={data.payments.succeeded} />
            <Count id="payments-failed" label="Failed" value={data.payments.failed} />
            <Metric id="payments-failure-rate" label="Failure rate" value={data.payments.failure_rate}>
              {formatRate(data.payments.failure_rate)}
            </Metric>
          </Metrics>
        </Panel>
        <Panel title="Credits">
          <Metrics>
            {(['issued', 'spent', 'expired', 'voided', 'outstanding'] as const).map((key) => (
              <CreditsMetric key={key} id={`credits-${key}`} label={capitalize(key)} value={data.credits[key]} />
            ))}
          </Metrics>
          <Metrics caption="Outstanding by source">
            {(['paid', 'promotional', 'held'] as const).map((key) => (
              <CreditsMetric
                key={key}
                id={`credits-liability-${key}`}
                label={capitalize(key)}
                value={data.credits.liability[key]}
                share={{ of: data.credits.outstanding, what: 'of the liability' }}
              />
            ))}
          </Metrics>
          <Metrics caption="Breakage (expired unused)">
            {(['paid', 'promotional'] as const).map((key) => (
              <CreditsMetric
                key={key}
                id={`credits-breakage-${key}`}
                label={capitalize(key)}
                value={data.credits.breakage[key]}
                share={{ of: data.credits.expired, what: 'of what expired' }}
              />
            ))}
          </Metrics>
        </Panel>
        <Panel title="Webhooks">
          <p className={`badge ${healthy ? 'badge-active' : 'badge-past_due'}`} data-testid="webhooks-health">
            {healthy ? 'Healthy' : 'Needs attention'}
          </p>
          <Metrics>
            {(['received', 'processed', 'failed', 'dead', 'ignored'] as const).map((key) => (
              <Count key={key} id={`webhooks-${key}`} label={capitalize(key)} value={hooks[key]} />
            ))}
            <Metric id="webhooks-lag-p50" label="Lag (median)" value={hooks.lag_p50_seconds}>
              {seconds(hooks.lag_p50_seconds)}
            </Metric>
            <Metric id="webhooks-lag-p95" label="Lag (95th pct.)" value={hooks.lag_p95_seconds}>
              {seconds(hooks.lag_p95_seconds)}
            </Metric>
          </Metrics>
        </Panel>
      </div>
      <div className="panels wide">
        {currencies.map((currency) => (
          <RevenueChart key={currency} currency={currency} daily={data.revenue.daily} range={data.range} />
        ))}
        <TopUsers rows={data.top_users} />
      </div>
    </>
  );
}

function Panel(props: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="card panel" aria-labelledby={id}>
      <h3 id={id}>{props.title}</h3>
      {props.children}
    </section>
  );
}

function Metrics(props: { caption?: string; children: ReactNode }) {
  return (
    <>
      {/* Outside the list: a <dl> holds only <dt>/<dd> groups (axe: definition-list). */}
      {props.caption && <p className="metrics-caption">{props.caption}</p>}
      <dl className="metrics">{props.children}</dl>
    </>
  );
}

/** A part of a whole, for the reader ('87.72% of the liability'); none of nothing. */
interface Share {
  of: number;
  what: string;
}

/** One figure: the formatted text for people, the raw value in `data-value` for checks. */
function Metric(props: { id: string; label: string; value: number | null; children: ReactNode; share?: Share }) {
  const { share, value } = props;
  return (
    <div className="metric">
      <dt>{props.label}</dt>
      <dd data-testid={props.id} data-value={value ?? ''}>
        {props.children}
      </dd>
      {share && share.of > 0 && value !== null && (
        <dd className="hint" data-testid={`${props.id}-share`} data-value={value / share.of}>
          {formatRate(value / share.of)} {share.what}
        </dd>
      )}
    </div>
  );
}

function Count(props: { id: string; label: string; value: number }) {
  return (
    <Metric id={props.id} label={props.label} value={props.value}>
      {formatNumber(props.value)}
    </Metric>
  );
}

function CreditsMetric(props: { id: string; label: string; value: number; share?: Share }) {
  return (
    <Metric id={props.id} label={props.label} value={props.value} share={props.share}>
      {formatCredits(props.value)}
    </Metric>
  );
}

function TopUsers({ rows }: { rows: AdminDashboard['top_users'] }) {
  return (
    <Panel title="Top users by credits spent">
      {rows.length === 0 ? (
        <p className="muted">No credits were spent.</p>
      ) : (
        <table className="table" data-testid="top-users">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Spent</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.user_id}>
                <th scope="row">{row.user_id}</th>
                <td data-value={row.spent}>{formatCredits(row.spent)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function seconds(value: number | null): string {
  return value === null ? '—' : `${formatNumber(Math.round(value * 100) / 100)} s`;
}
