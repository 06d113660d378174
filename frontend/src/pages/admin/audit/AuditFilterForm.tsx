/** The audit log's filters: who, what, on what, for which user, and when (in your time). */
import { type FormEvent, useId, useState } from 'react';
import { type AuditFilters } from './queries';
import { fromLocalInput, toLocalInput } from './filters';

export interface AuditFilterFormProps {
  filters: AuditFilters;
  onApply: (filters: AuditFilters) => void;
}

export function AuditFilterForm({ filters, onApply }: AuditFilterFormProps) {
  const [actor, setActor] = useState(filters.actor ?? '');
  const [action, setAction] = useState(filters.action ?? '');
  const [target, setTarget] = useState(filters.target ?? '');
  const [userId, setUserId] = useState(filters.user_id ? String(filters.user_id) : '');
  const [from, setFrom] = useState(toLocalInput(filters.from));
  const [to, setTo] = useState(toLocalInput(filters.to));
  const [invalid, setInvalid] = useState<string | null>(null);
  const id = useId();

  function submit(event: FormEvent) {
    event.preventDefault();
    const user = userId.trim() ? Number(userId.trim()) : null;
    if (user !== null && !(Number.isSafeInteger(user) && user > 0)) {
      return setInvalid('A user id is a whole number from 1.');
    }
    const since = fromLocalInput(from);
    const until = fromLocalInput(to);
    if (since && until && since > until) return setInvalid('“From” is after “To”.');
    setInvalid(null);
    const next: AuditFilters = {};
    if (actor.trim()) next.actor = actor.trim();
    if (action.trim()) next.action = action.trim();
    if (target.trim()) next.target = target.trim();
    if (user !== null) next.user_id = user;
    if (since) next.from = since;
    if (until) next.to = until;
    onApply(next);
  }

  function clear() {
    for (const set of [setActor, setAction, setTarget, setUserId, setFrom, setTo]) set('');
    setInvalid(null);
    onApply({});
  }

  return (
    <form className="filters" onSubmit={submit} aria-label="Audit filters">
      <div className="field">
        <label htmlFor={`${id}-actor`}>Actor</label>
        <input id={`${id}-actor`} value={actor} placeholder="admin:1, stripe" onChange={(e) => setActor(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-action`}>Action</label>
        <input id={`${id}-action`} value={action} placeholder="webhook.replayed" onChange={(e) => setAction(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-target`}>Target</label>
        <input id={`${id}-target`} value={target} onChange={(e) => setTarget(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-user`}>User id</label>
        <input id={`${id}-user`} inputMode="numeric" value={userId} onChange={(e) => setUserId(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-from`}>From (your time)</label>
        <input id={`${id}-from`} type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${id}-to`}>To, not included</label>
        <input id={`${id}-to`} type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
      </div>
      {invalid && (
        <p className="notice notice-error filters-wide" role="alert">
          {invalid}
        </p>
      )}
      <div className="actions filters-wide">
        <button type="submit" className="button primary">
          Apply filters
        </button>
        <button type="button" className="button secondary" onClick={clear}>
          Clear
        </button>
      </div>
    </form>
  );
}
