/**
 * `#/credits`: the balance (what can be spent now; what holds reserve and what expires
 * next, apart), credits spent and granted over the last 30 days, a top-up with
 * `<PaymentForm>`, the low-balance alert and auto top-up, and the history a page at a time.
 *
 * After a payment (here or through Checkout) the balance and history look again every
 * second until the ledger shows the transaction for that very Stripe object: credits come
 * by webhook, a moment later.
 */
import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useId, useState } from 'react';
import { addDays, todayUtc } from '../components/AdminFinancialDashboard/days';
import { AutoTopupForm } from '../components/account/AutoTopupForm';
import { ExpiringList } from '../components/account/ExpiringList';
import { TransactionTable } from '../components/account/TransactionTable';
import '../components/account/account.css';
import { PaymentForm } from '../components/PaymentForm';
import { ErrorNotice } from '../components/ui/ErrorNotice';
import { Loading } from '../components/ui/Loading';
import { MoreRows } from '../components/ui/MoreRows';
import { accountKey, useBalance, useSettings, useTransactions, useUsage } from '../lib/account';
import { formatCredits, formatMoney, parseMoney } from '../lib/format';
import { rows } from '../lib/pages';

const UsageChart = lazy(() => import('../components/account/UsageChart'));

const CURRENCY = 'usd';
const POLL_MS = 1000;
const WAIT_MS = 30_000;
const DAYS = 30;

export interface CreditsPageProps {
  userId: number;
  /** The Checkout session (`?session_id=`) whose credits to wait for, after a redirect. */
  awaiting?: string | null;
}

export function CreditsPage({ userId, awaiting: returnedFrom = null }: CreditsPageProps) {
  const [awaiting, setAwaiting] = useState<string | null>(returnedFrom);
  const [late, setLate] = useState(false);
  const poll = { refetchInterval: awaiting ? POLL_MS : (false as const) };
  const balance = useBalance(userId, poll);
  const history = useTransactions(userId, poll);
  const queries = useQueryClient();
  const items = rows(history.data?.pages);
  const arrived = awaiting !== null && items.some((item) => item.reference === awaiting);

  useEffect(() => {
    if (!arrived) return;
    setAwaiting(null);
    // Whatever else the payment changed: the chart, the saved card, the payments.
    void queries.invalidateQueries({ queryKey: accountKey(userId) });
  }, [arrived, queries, userId]);

  useEffect(() => {
    if (!awaiting) return;
    const timer = setTimeout(() => {
      setAwaiting(null);
      setLate(true);
    }, WAIT_MS);
    return () => clearTimeout(timer);
  }, [awaiting]);

  return (
    <>
      <h1 tabIndex={-1}>Credits</h1>
      <section className="card balance" aria-labelledby="credits-balance">
        <h2 id="credits-balance">Balance</h2>
        {balance.isPending ? (
          <Loading>Loading your balance…</Loading>
        ) : !balance.data ? (
          <ErrorNotice error={balance.error} what="Your balance could not be loaded" onRetry={() => void balance.refetch()} />
        ) : (
          <div aria-live="polite">
            <p className="figure" data-testid="credit-balance" data-value={balance.data.balance}>
              {formatCredits(balance.data.balance)}
            </p>
            <p className="muted" data-testid="credit-held" data-value={balance.data.held}>
              {formatCredits(balance.data.held)} held for work in progress
            </p>
            <h3>Expiring next</h3>
            <ExpiringList expiring={balance.data.expiring} />
          </div>
        )}
        {awaiting && (
          <p className="notice" role="status">
            Payment received. Waiting for Stripe to confirm it; your credits appear here in a moment…
          </p>
        )}
        {late && (
          <p className="notice" role="status">
            Your payment went through, but the credits have not arrived yet. They will appear once Stripe
            reports the payment.
          </p>
        )}
      </section>
      <Usage userId={userId} />
      <TopUp
        onPaid={(paymentIntentId) => {
          setLate(false);
          setAwaiting(paymentIntentId);
        }}
      />
      <AutoTopup userId={userId} />
      <section className="card" aria-labelledby="credits-history">
        <h2 id="credits-history">History</h2>
        {history.isPending ? (
          <Loading>Loading your history…</Loading>
        ) : !history.data ? (
          <ErrorNotice error={history.error} what="Your history could not be loaded" onRetry={() => void history.refetch()} />
        ) : items.length === 0 ? (
          <p className="muted" data-testid="credit-history-empty">
            No transactions yet.
          </p>
        ) : (
          <>
            <TransactionTable items={items} />
            <MoreRows query={history} moreFailed="Older transactions could not be loaded" />
          </>
        )}
      </section>
    </>
  );
}

function Usage({ userId }: { userId: number }) {
  const [range] = useState(() => {
    const to = todayUtc();
    return { from: addDays(to, 1 - DAYS), to };
  });
  const usage = useUsage(userId, range);
  const days = usage.data?.days ?? [];
  const quiet = days.every((day) => day.spent === 0 && day.granted === 0);
  return (
    <section className="card" aria-labelledby="credits-usage">
      <h2 id="credits-usage">Last {DAYS} days</h2>
      {usage.isPending ? (
        <Loading>Loading your usage…</Loading>
      ) : !usage.data ? (
        <ErrorNotice error={usage.error} what="Your usage could not be loaded" onRetry={() => void usage.refetch()} />
      ) : quiet ? (
        <p className="muted" data-testid="usage-empty">
          No credits were spent or granted in the last {DAYS} days.
        </p>
      ) : (
        <Suspense fallback={<Loading>Loading the chart…</Loading>}>
          <UsageChart days={days} />
        </Suspense>
      )}
    </section>
  );
}

function TopUp({ onPaid }: { onPaid: (paymentIntentId: string) => void }) {
  const [amountText, setAmountText] = useState('25.00');
  const amountId = useId();
  const amount = parseMoney(amountText, CURRENCY) ?? 0;
  return (
    <section className="card" aria-labelledby="credits-top-up">
      <h2 id="credits-top-up">Top up</h2>
      <div className="field">
        <label htmlFor={amountId}>Amount ({CURRENCY.toUpperCase()})</label>
        <input id={amountId} inputMode="decimal" value={amountText} onChange={(event) => setAmountText(event.target.value)} />
      </div>
      <PaymentForm
        amount={amount}
        currency={CURRENCY}
        description={amount ? `Credit top-up of ${formatMoney(amount, CURRENCY)}` : undefined}
        onSuccess={(payment) => onPaid(payment.paymentIntentId)}
      />
    </section>
  );
}

function AutoTopup({ userId }: { userId: number }) {
  const settings = useSettings(userId);
  return (
    <section className="card" aria-labelledby="credits-auto-top-up">
      <h2 id="credits-auto-top-up">Low balance and auto top-up</h2>
      {settings.isPending ? (
        <Loading>Loading your settings…</Loading>
      ) : !settings.data ? (
        <ErrorNotice error={settings.error} what="Your settings could not be loaded" onRetry={() => void settings.refetch()} />
      ) : (
        <AutoTopupForm userId={userId} settings={settings.data} />
      )}
    </section>
  );
}
