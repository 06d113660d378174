/**
 * `#/admin/endpoints`: the platform's webhook endpoints. Creating one or rotating its
 * secret shows the signing secret once; deleting is asked first; each endpoint links to
 * its deliveries (`#/admin/endpoints/:endpointId`).
 */
import { useState } from 'react';
import { ErrorNotice } from '../../components/ui/ErrorNotice';
import { Loading } from '../../components/ui/Loading';
import { SecretReveal } from '../../components/ui/SecretReveal';
import { EndpointDialog } from './endpoints/EndpointDialog';
import { EndpointForm } from './endpoints/EndpointForm';
import { type EndpointAction, EndpointTable } from './endpoints/EndpointTable';
import { useEndpoints } from './endpoints/queries';
import type { Endpoint, EndpointWithSecret } from '../../lib/schemas';

interface Shown {
  endpoint: EndpointWithSecret;
  reason: 'created' | 'rotated';
}

export function EndpointsPage() {
  const endpoints = useEndpoints();
  const [secret, setSecret] = useState<Shown | null>(null);
  const [asking, setAsking] = useState<{ action: EndpointAction; endpoint: Endpoint } | null>(null);
  const [said, setSaid] = useState('');
  const list = endpoints.data?.data ?? [];

  return (
    <>
      <h1 tabIndex={-1}>Webhook endpoints</h1>
      <p className="muted">
        Where the platform is told of credits, payments and subscriptions: each delivery is
        signed with the endpoint's secret and retried for three days until it is answered 2xx.
      </p>
      {secret && (
        <SecretReveal
          subject={secret.endpoint.url}
          secret={secret.endpoint.secret}
          reason={secret.reason}
          onDone={() => {
            setSecret(null);
            document.querySelector<HTMLElement>('h1')?.focus();
          }}
        />
      )}
      <p role="status" className="hint" data-testid="endpoints-said">
        {said}
      </p>
      <section className="card" aria-labelledby="endpoints-list">
        <h2 id="endpoints-list" tabIndex={-1}>
          Endpoints
        </h2>
        {endpoints.isPending ? (
          <Loading>Loading endpoints…</Loading>
        ) : !endpoints.data ? (
          <ErrorNotice error={endpoints.error} what="The endpoints could not be loaded" onRetry={() => void endpoints.refetch()} />
        ) : list.length === 0 ? (
          <p className="muted" data-testid="endpoints-empty">
            No endpoints yet: add one below.
          </p>
        ) : (
          <EndpointTable endpoints={list} onAction={(action, endpoint) => setAsking({ action, endpoint })} />
        )}
      </section>
      <section className="card" aria-labelledby="endpoints-new">
        <h2 id="endpoints-new">Add an endpoint</h2>
        <EndpointForm
          onCreated={(endpoint) => {
            setSaid('');
            setSecret({ endpoint, reason: 'created' });
          }}
        />
      </section>
      {asking && (
        <EndpointDialog
          action={asking.action}
          endpoint={asking.endpoint}
          onClose={() => setAsking(null)}
          onRotated={(endpoint) => {
            setAsking(null);
            setSaid('');
            setSecret({ endpoint, reason: 'rotated' });
          }}
          onDeleted={(endpoint) => {
            setAsking(null);
            if (secret?.endpoint.id === endpoint.id) setSecret(null);
            setSaid(`Deleted the endpoint ${endpoint.url}.`);
            // Its row is going: focus the list instead, once the dialog has let go.
            requestAnimationFrame(() => document.getElementById('endpoints-list')?.focus());
          }}
        />
      )}
    </>
  );
}
