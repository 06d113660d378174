/**
 * The customer's low-balance alert and auto top-up: `PUT .../settings` replaces both whole.
 * The form checks what it can (whole credits, money, a monthly limit that allows one
 * top-up); what only the service knows (a saved card, the allowed amounts and currencies)
 * comes back as its 422 problem, shown beside the form with the fields it names.
 */
import { type FormEvent, useId, useRef, useState } from 'react';
import { ErrorNotice } from '../ui/ErrorNotice';
import { newIdempotencyKey, problemFrom } from '../../lib/api';
import { useSaveSettings } from '../../lib/account';
import type { Settings, SettingsInput } from '../../lib/schemas';
import { formatDateTime, formatMoney, minorDigits, parseMoney } from '../../lib/format';

type Field = 'low' | 'threshold' | 'amount' | 'limit';
type Errors = Partial<Record<Field, string>>;

const DEFAULT_CURRENCY = 'usd';

function moneyText(minor: number | undefined, currency: string): string {
  if (minor === undefined) return '';
  const digits = minorDigits(currency);
  return (minor / 10 ** digits).toFixed(digits);
}

function wholeCredits(text: string): number | null {
  const trimmed = text.trim().replace(/,/g, '');
  if (!/^\d+$/.test(trimmed)) return null;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) && value >= 1 ? value : null;
}

/** What the service named in a 422 `validation_error`: `auto_topup.amount: ...`. */
function fieldProblems(error: unknown): string[] {
  const problem = problemFrom(error);
  if (problem.code !== 'validation_error' || !Array.isArray(problem.errors)) return [];
  return (problem.errors as { loc?: unknown[]; msg?: string }[]).map((item) => {
    const where = (item.loc ?? []).filter((part) => part !== 'body').join('.');
    return where ? `${where}: ${item.msg ?? 'invalid'}` : (item.msg ?? 'invalid');
  });
}

const HELP: Record<string, string> = {
  payment_method_required:
    'Auto top-up charges your saved card. Pay a top-up above with “Save this card for auto top-up” ticked, or add a card in the billing portal, then save again.',
  amount_out_of_range: 'Choose another top-up amount or monthly limit.',
  unsupported_currency: 'Auto top-up is not available in this currency.',
};

export function AutoTopupForm({ userId, settings }: { userId: number; settings: Settings }) {
  const terms = settings.auto_topup;
  const currency = terms?.currency ?? DEFAULT_CURRENCY;
  const code = currency.toUpperCase();
  const [low, setLow] = useState(settings.low_balance_threshold?.toString() ?? '');
  const [enabled, setEnabled] = useState(terms?.enabled ?? false);
  const [threshold, setThreshold] = useState(terms?.threshold.toString() ?? '');
  const [amount, setAmount] = useState(moneyText(terms?.amount, currency));
  const [limit, setLimit] = useState(moneyText(terms?.monthly_limit, currency));
  const [errors, setErrors] = useState<Errors>({});
  const [said, setSaid] = useState('');
  const save = useSaveSettings(userId);
  const form = useRef<HTMLFormElement>(null);
  const id = useId();

  function check(): { input: SettingsInput } | { errors: Errors } {
    const found: Errors = {};
    const lowValue = low.trim() ? wholeCredits(low) : null;
    if (low.trim() && lowValue === null) found.low = 'Enter whole credits from 1, or leave it empty.';
    const untouched = !threshold.trim() && !amount.trim() && !limit.trim();
    if (!enabled && untouched) {
      return Object.keys(found).length ? { errors: found } : { input: { low_balance_threshold: lowValue, auto_topup: null } };
    }
    const at = wholeCredits(threshold);
    const each = parseMoney(amount, currency);
    const most = parseMoney(limit, currency);
    if (at === null) found.threshold = 'Enter whole credits from 1.';
    if (!each) found.amount = `Enter an amount in ${code}, like 25.00.`;
    if (!most) found.limit = `Enter an amount in ${code}, like 100.00.`;
    else if (each && most < each) found.limit = `The monthly limit must allow at least one top-up of ${formatMoney(each, currency)}.`;
    if (Object.keys(found).length || at === null || !each || !most) return { errors: found };
    return {
      input: {
        low_balance_threshold: lowValue,
        auto_topup: { enabled, threshold: at, amount: each, currency, monthly_limit: most },
      },
    };
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (save.isPending) return;
    setSaid('');
    const checked = check();
    if ('errors' in checked) {
      setErrors(checked.errors);
      requestAnimationFrame(() => form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus());
      return;
    }
    setErrors({});
    save.mutate(
      { key: newIdempotencyKey(), input: checked.input },
      { onSuccess: (saved) => setSaid(saved.auto_topup?.enabled ? 'Settings saved: auto top-up is on.' : 'Settings saved.') },
    );
  }

  const field = (name: Field, hinted = false) => ({
    id: `${id}-${name}`,
    'aria-invalid': errors[name] ? true : undefined,
    'aria-describedby': errors[name] ? `${id}-${name}-error` : hinted ? `${id}-${name}-hint` : undefined,
  });
  const problem = save.isError ? problemFrom(save.error) : null;
  const listed = save.isError ? fieldProblems(save.error) : [];

  return (
    <form ref={form} className="form-grid" onSubmit={submit} noValidate aria-label="Auto top-up settings">
      {terms?.paused_at && (
        <p className="notice wide" data-testid="auto-topup-paused">
          <strong>Auto top-up is paused</strong> since {formatDateTime(terms.paused_at)}
          {terms.pause_reason ? `: ${terms.pause_reason}` : ''}. Saving the settings resumes it.
        </p>
      )}
      <div className="field wide">
        <label htmlFor={`${id}-low`}>Tell me when my balance falls below (credits)</label>
        <input {...field('low', true)} inputMode="numeric" value={low} onChange={(e) => setLow(e.target.value)} />
        <Hint id={`${id}-low`} error={errors.low}>
          Optional: empty uses the service's default.
        </Hint>
      </div>
      <div className="field wide">
        <label className="check">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          Top up automatically with my saved card
        </label>
      </div>
      <div className="field">
        <label htmlFor={`${id}-threshold`}>When my balance falls below (credits)</label>
        <input {...field('threshold')} inputMode="numeric" value={threshold} onChange={(e) => setThreshold(e.target.value)} />
        <Hint id={`${id}-threshold`} error={errors.threshold} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-amount`}>Top up by ({code})</label>
        <input {...field('amount')} inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />
        <Hint id={`${id}-amount`} error={errors.amount} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-limit`}>At most per month ({code})</label>
        <input {...field('limit')} inputMode="decimal" value={limit} onChange={(e) => setLimit(e.target.value)} />
        <Hint id={`${id}-limit`} error={errors.limit} />
      </div>
      {problem && (
        <div className="wide" data-testid="settings-problem">
          <ErrorNotice error={save.error} what="The settings were not saved" />
          {listed.length > 0 && (
            <ul className="problems">
              {listed.map((text) => (
                <li key={text}>{text}</li>
              ))}
            </ul>
          )}
          {HELP[problem.code] && <p className="hint">{HELP[problem.code]}</p>}
        </div>
      )}
      <div className="actions wide">
        <button type="submit" className="button primary" aria-disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save settings'}
        </button>
      </div>
      <p role="status" className="hint wide" data-testid="settings-said">
        {said}
      </p>
    </form>
  );
}

function Hint({ id, error, children }: { id: string; error?: string | undefined; children?: string }) {
  if (error) {
    return (
      <p className="field-error" id={`${id}-error`}>
        {error}
      </p>
    );
  }
  return children ? (
    <p className="hint" id={`${id}-hint`}>
      {children}
    </p>
  ) : null;
}
