/**
 * Granting credits to a user: the form, then a confirmation that says exactly what will be
 * granted. The idempotency key is made when the dialog opens, so trying again after a
 * failure (or the client's own retry after a network error) is the same grant, never two.
 */
import { type FormEvent, useId, useState } from 'react';
import { ConfirmDialog } from '../../../components/ui/ConfirmDialog';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { newIdempotencyKey } from '../../../lib/api';
import { formatCredits, formatDateTime, formatNumber } from '../../../lib/format';
import type { AddCreditsInput, Granted } from '../../../lib/schemas';
import { useAddCredits } from './queries';

type Field = 'amount' | 'reason' | 'expires' | 'priority';
const pad = (value: number) => String(value).padStart(2, '0');

/** A local day ('2027-01-04') as the instant it ends in the admin's zone. */
export function endOfDay(day: string): Date | null {
  const [year, month, date] = day.split('-').map(Number);
  if (!year || !month || !date) return null;
  const end = new Date(year, month - 1, date, 23, 59, 59);
  return Number.isNaN(end.getTime()) ? null : end;
}

function localDay(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function GrantForm({ userId, onGranted }: { userId: number; onGranted: (granted: Granted) => void }) {
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [expires, setExpires] = useState('');
  const [priority, setPriority] = useState('');
  const [promotion, setPromotion] = useState(false);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [asking, setAsking] = useState<AddCreditsInput | null>(null);
  const id = useId();

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Partial<Record<Field, string>> = {};
    const credits = Number(amount.trim().replace(/,/g, ''));
    if (!/^\d[\d,]*$/.test(amount.trim()) || !Number.isSafeInteger(credits) || credits < 1) {
      found.amount = 'Enter whole credits from 1.';
    }
    if (!reason.trim()) found.reason = 'Say why: the user’s history and the audit log keep it.';
    const end = expires ? endOfDay(expires) : null;
    if (expires && (!end || end.getTime() <= Date.now())) found.expires = 'Choose a day from today on, or none.';
    const rank = priority.trim() ? Number(priority.trim()) : null;
    if (rank !== null && !(Number.isInteger(rank) && rank >= 0 && rank <= 100)) {
      found.priority = 'A priority is a whole number from 0 to 100.';
    }
    setErrors(found);
    if (Object.keys(found).length > 0) {
      const first = (['amount', 'reason', 'expires', 'priority'] as const).find((name) => found[name]);
      document.getElementById(`${id}-${first}`)?.focus();
      return;
    }
    setAsking({
      amount: credits,
      reason: reason.trim(),
      expires_at: end ? end.toISOString() : null,
      priority: rank,
      source: promotion ? 'promotion' : 'admin',
    });
  }

  const field = (name: Field) => ({
    id: `${id}-${name}`,
    'aria-invalid': errors[name] ? true : undefined,
    'aria-describedby': errors[name] ? `${id}-${name}-error` : `${id}-${name}-hint`,
  });
  const hint = (name: Field, text: string) =>
    errors[name] ? (
      <p className="field-error" id={`${id}-${name}-error`}>
        {errors[name]}
      </p>
    ) : (
      <p className="hint" id={`${id}-${name}-hint`}>
        {text}
      </p>
    );

  return (
    <>
      <form className="form-grid" onSubmit={submit} noValidate aria-label="Grant credits">
        <div className="field">
          <label htmlFor={`${id}-amount`}>Credits</label>
          <input {...field('amount')} inputMode="numeric" value={amount} onChange={(e) => setAmount(e.target.value)} />
          {hint('amount', 'Whole credits.')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-expires`}>Expires at the end of</label>
          <input
            {...field('expires')}
            type="date"
            min={localDay(new Date())}
            value={expires}
            onChange={(e) => setExpires(e.target.value)}
          />
          {hint('expires', 'Your time zone. Empty: never expires.')}
        </div>
        <div className="field">
          <label htmlFor={`${id}-priority`}>Priority (0–100)</label>
          <input {...field('priority')} inputMode="numeric" value={priority} onChange={(e) => setPriority(e.target.value)} />
          {hint('priority', `Lower is spent first. Empty: ${promotion ? 10 : 50}.`)}
        </div>
        <div className="field wide">
          <label htmlFor={`${id}-reason`}>Reason</label>
          <input {...field('reason')} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
          {hint('reason', 'Kept in the history and the audit log.')}
        </div>
        <div className="field wide">
          <label className="check">
            <input type="checkbox" checked={promotion} onChange={(e) => setPromotion(e.target.checked)} />
            Promotional credits (not paid for: counted apart in the liability)
          </label>
        </div>
        <div className="actions wide">
          <button type="submit" className="button primary">
            Grant credits…
          </button>
        </div>
      </form>
      {asking && (
        <GrantDialog
          userId={userId}
          input={asking}
          onClose={() => setAsking(null)}
          onGranted={(granted) => {
            setAsking(null);
            setAmount('');
            setReason('');
            setExpires('');
            setPriority('');
            setPromotion(false);
            onGranted(granted);
          }}
        />
      )}
    </>
  );
}

interface GrantDialogProps {
  userId: number;
  input: AddCreditsInput;
  onGranted: (granted: Granted) => void;
  onClose: () => void;
}

function GrantDialog({ userId, input, onGranted, onClose }: GrantDialogProps) {
  const [key] = useState(newIdempotencyKey);
  const grant = useAddCredits(userId);
  const promotion = input.source === 'promotion';
  return (
    <ConfirmDialog
      title={`Grant ${formatCredits(input.amount)} to user ${userId}?`}
      confirmLabel="Grant credits"
      busyLabel="Granting…"
      busy={grant.isPending}
      error={grant.isError ? <ErrorNotice error={grant.error} what="The credits were not granted" /> : null}
      onConfirm={() => grant.mutate({ key, input }, { onSuccess: onGranted })}
      onCancel={onClose}
    >
      <dl className="facts" data-testid="grant-summary">
        <div>
          <dt>Reason</dt>
          <dd className="wrap">{input.reason}</dd>
        </div>
        <div>
          <dt>Kind</dt>
          <dd>{promotion ? 'Promotion' : 'Admin grant'}</dd>
        </div>
        <div>
          <dt>Expires</dt>
          <dd>{input.expires_at ? formatDateTime(input.expires_at) : 'Never'}</dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>{formatNumber(input.priority ?? (promotion ? 10 : 50))}</dd>
        </div>
      </dl>
    </ConfirmDialog>
  );
}
