/** The admin's panels of one user's activity: holds, history, plans, payments, settings, audit. */
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { PaymentTable } from '../../../components/account/PaymentTable';
import { TransactionTable } from '../../../components/account/TransactionTable';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { Loading } from '../../../components/ui/Loading';
import { MoreRows, type PagedQuery } from '../../../components/ui/MoreRows';
import { TableScroll } from '../../../components/ui/TableScroll';
import { statusWords } from '../../../components/SubscriptionManager/SubscriptionManager';
import { useActiveHolds, usePayments, useSettings, useSubscriptions, useTransactions } from '../../../lib/account';
import { formatCredits, formatDate, formatDateTime, formatInterval, formatMoney } from '../../../lib/format';
import { rows } from '../../../lib/pages';
import { AuditTable } from '../audit/AuditTable';
import { useAuditLog } from '../audit/queries';

interface Paged extends PagedQuery {
  isPending: boolean;
  refetch: () => unknown;
}

/** A panel over a paged list: loading, error, empty, the rows and "show older". */
function PagedPanel(props: {
  id: string;
  title: string;
  what: string;
  query: Paged;
  count: number;
  empty: string;
  children: ReactNode;
  more?: string;
  extra?: ReactNode;
}) {
  const { query } = props;
  return (
    <section className="card" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.extra}
      {query.isPending ? (
        <Loading>Loading {props.what}…</Loading>
      ) : query.isError && props.count === 0 ? (
        <ErrorNotice
          error={query.error}
          what={`The ${props.what} could not be loaded`}
          onRetry={() => void query.refetch()}
        />
      ) : props.count === 0 ? (
        <p className="muted" data-testid={`${props.id}-empty`}>
          {props.empty}
        </p>
      ) : (
        <>
          {props.children}
          <MoreRows
            query={query}
            label={props.more}
            moreFailed={`More ${props.what} could not be loaded`}
            refreshFailed={`The ${props.what} could not be refreshed`}
          />
        </>
      )}
    </section>
  );
}

export function HoldsPanel({ userId }: { userId: number }) {
  const holds = useActiveHolds(userId);
  const list = rows(holds.data?.pages);
  return (
    <PagedPanel id="user-holds" title="Active holds" what="holds" query={holds} count={list.length} empty="No active holds.">
      <TableScroll label="Table of active holds">
        <table className="table" data-testid="holds-table">
          <thead>
            <tr>
              <th scope="col">Hold</th>
              <th scope="col" className="number">
                Held
              </th>
              <th scope="col">Description</th>
              <th scope="col">Placed</th>
              <th scope="col">Released by</th>
            </tr>
          </thead>
          <tbody>
            {list.map((hold) => (
              <tr key={hold.id}>
                <th scope="row">#{hold.id}</th>
                <td className="number">{formatCredits(hold.amount)}</td>
                <td className="wrap">{hold.description ?? <span className="muted">—</span>}</td>
                <td className="nowrap">{formatDateTime(hold.created_at)}</td>
                <td className="nowrap">{formatDateTime(hold.expires_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </PagedPanel>
  );
}

export function TransactionsPanel({ userId }: { userId: number }) {
  const history = useTransactions(userId);
  const list = rows(history.data?.pages);
  return (
    <PagedPanel id="user-transactions" title="Transactions" what="transactions" query={history} count={list.length} empty="No transactions yet.">
      <TransactionTable items={list} label="Table of transactions" />
    </PagedPanel>
  );
}

export function PaymentsPanel({ userId }: { userId: number }) {
  const payments = usePayments(userId);
  const list = rows(payments.data?.pages);
  return (
    <PagedPanel id="user-payments" title="Payments" what="payments" query={payments} count={list.length} empty="No payments yet.">
      <PaymentTable payments={list} dashboard />
    </PagedPanel>
  );
}

export function AuditPanel({ userId }: { userId: number }) {
  const log = useAuditLog({ user_id: userId });
  const list = rows(log.data?.pages);
  const link = (
    <p className="hint">
      <Link to={`/admin/audit?user_id=${userId}`}>Open in the audit log</Link> to filter further.
    </p>
  );
  return (
    <PagedPanel id="user-audit" title="Audit trail" what="audit entries" query={log} count={list.length} empty="No audit entries about this user." extra={link}>
      <AuditTable entries={list} />
    </PagedPanel>
  );
}

export function SubscriptionsPanel({ userId }: { userId: number }) {
  const subscriptions = useSubscriptions(userId);
  const list = subscriptions.data ?? [];
  return (
    <section className="card" aria-labelledby="user-subscriptions">
      <h2 id="user-subscriptions">Subscriptions</h2>
      {subscriptions.isPending ? (
        <Loading>Loading subscriptions…</Loading>
      ) : !subscriptions.data ? (
        <ErrorNotice error={subscriptions.error} what="The subscriptions could not be loaded" onRetry={() => void subscriptions.refetch()} />
      ) : list.length === 0 ? (
        <p className="muted" data-testid="user-subscriptions-empty">
          No subscriptions.
        </p>
      ) : (
        <TableScroll label="Table of subscriptions">
          <table className="table" data-testid="subscriptions-table">
            <thead>
              <tr>
                <th scope="col">Subscription</th>
                <th scope="col">Status</th>
                <th scope="col">Price</th>
                <th scope="col">Period ends</th>
              </tr>
            </thead>
            <tbody>
              {list.map((subscription) => (
                <tr key={subscription.id}>
                  <th scope="row" className="mono wrap">
                    {subscription.id}
                  </th>
                  <td>
                    <span className={`badge badge-${subscription.status}`}>{statusWords(subscription.status)}</span>
                  </td>
                  <td className="nowrap">
                    {subscription.unit_amount !== null && subscription.currency
                      ? `${formatMoney(subscription.unit_amount * subscription.quantity, subscription.currency)} ${formatInterval(subscription.interval)}`
                      : '—'}
                  </td>
                  <td className="nowrap">
                    {subscription.current_period_end ? formatDate(subscription.current_period_end) : '—'}
                    {subscription.cancel_at_period_end && <span className="block hint">Cancels then</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
    </section>
  );
}

export function SettingsPanel({ userId }: { userId: number }) {
  const settings = useSettings(userId);
  const data = settings.data;
  const auto = data?.auto_topup ?? null;
  return (
    <section className="card" aria-labelledby="user-settings">
      <h2 id="user-settings">Alerts and auto top-up</h2>
      {settings.isPending ? (
        <Loading>Loading settings…</Loading>
      ) : !data ? (
        <ErrorNotice error={settings.error} what="The settings could not be loaded" onRetry={() => void settings.refetch()} />
      ) : (
        <dl className="facts" data-testid="user-settings-facts">
          <div>
            <dt>Low-balance alert below</dt>
            <dd>{data.low_balance_threshold === null ? 'Service default' : formatCredits(data.low_balance_threshold)}</dd>
          </div>
          <div>
            <dt>Auto top-up</dt>
            <dd>
              {!auto ? (
                'Not set up'
              ) : (
                <>
                  <span className={`badge badge-${auto.paused_at ? 'paused' : auto.enabled ? 'enabled' : 'disabled'}`}>
                    {auto.paused_at ? 'Paused' : auto.enabled ? 'On' : 'Off'}
                  </span>
                  <span className="block">
                    Below {formatCredits(auto.threshold)}, charge {formatMoney(auto.amount, auto.currency)}; at most{' '}
                    {formatMoney(auto.monthly_limit, auto.currency)} a month
                  </span>
                  {auto.paused_at && (
                    <span className="block hint">
                      Paused {formatDateTime(auto.paused_at)}
                      {auto.pause_reason ? `: ${auto.pause_reason}` : ''}
                    </span>
                  )}
                </>
              )}
            </dd>
          </div>
        </dl>
      )}
    </section>
  );
}
