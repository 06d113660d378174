/** A new endpoint: its URL, what it is sent (every event, or some) and a note for people. */
import { type FormEvent, useId, useState } from 'react';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { newIdempotencyKey } from '../../../lib/api';
import type { EndpointWithSecret } from '../../../lib/schemas';
import { EVENT_TYPES, EVERY_EVENT } from './eventTypes';
import { useCreateEndpoint } from './queries';

export function EndpointForm({ onCreated }: { onCreated: (endpoint: EndpointWithSecret) => void }) {
  const create = useCreateEndpoint();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [every, setEvery] = useState(false);
  const [events, setEvents] = useState<string[]>([]);
  const [invalid, setInvalid] = useState<string | null>(null);
  const [key, setKey] = useState(newIdempotencyKey); // one per endpoint meant, kept on retries
  const ids = { url: useId(), description: useId(), events: useId(), invalid: useId() };

  function toggle(type: string, on: boolean) {
    setEvents((chosen) => (on ? [...chosen, type] : chosen.filter((item) => item !== type)));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const chosen = every ? [EVERY_EVENT] : EVENT_TYPES.filter((type) => events.includes(type));
    if (!url.trim()) return setInvalid('Enter the URL to send events to.');
    if (chosen.length === 0) return setInvalid('Choose the events to send, or every event.');
    setInvalid(null);
    const input = { url: url.trim(), events: chosen, description: description.trim() || null };
    create.mutate(
      { key, input },
      {
        onSuccess: (created) => {
          setUrl('');
          setDescription('');
          setEvents([]);
          setEvery(false);
          setKey(newIdempotencyKey());
          create.reset();
          onCreated(created);
        },
      },
    );
  }

  return (
    <form className="endpoint-form" onSubmit={submit} noValidate aria-describedby={invalid ? ids.invalid : undefined}>
      <div className="field">
        <label htmlFor={ids.url}>Endpoint URL</label>
        <input
          id={ids.url}
          type="url"
          inputMode="url"
          placeholder="https://example.com/billing-hooks"
          value={url}
          autoComplete="off"
          spellCheck={false}
          aria-invalid={invalid !== null && !url.trim()}
          onChange={(change) => setUrl(change.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={ids.description}>Description (optional)</label>
        <input id={ids.description} value={description} onChange={(change) => setDescription(change.target.value)} />
      </div>
      <fieldset className="event-types">
        <legend>Events to send</legend>
        <label className="check">
          <input type="checkbox" checked={every} onChange={(change) => setEvery(change.target.checked)} />
          Every event, including types added later
        </label>
        <div className="check-grid" id={ids.events}>
          {EVENT_TYPES.map((type) => (
            <label key={type} className="check mono">
              <input
                type="checkbox"
                disabled={every}
                checked={every || events.includes(type)}
                onChange={(change) => toggle(type, change.target.checked)}
              />
              {type}
            </label>
          ))}
        </div>
      </fieldset>
      {invalid && (
        <p className="notice notice-error" role="alert" id={ids.invalid}>
          {invalid}
        </p>
      )}
      {create.isError && <ErrorNotice error={create.error} what="The endpoint was not created" />}
      <div className="actions">
        <button type="submit" className="button primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create endpoint'}
        </button>
      </div>
    </form>
  );
}
