/** "Rotate the secret?" and "Delete the endpoint?", asked before either is done. */
import { useState } from 'react';
import { ConfirmDialog } from '../../../components/ui/ConfirmDialog';
import { ErrorNotice } from '../../../components/ui/ErrorNotice';
import { newIdempotencyKey } from '../../../lib/api';
import type { Endpoint, EndpointWithSecret } from '../../../lib/schemas';
import type { EndpointAction } from './EndpointTable';
import { useDeleteEndpoint, useRotateSecret } from './queries';

export interface EndpointDialogProps {
  action: EndpointAction;
  endpoint: Endpoint;
  onRotated: (endpoint: EndpointWithSecret) => void;
  onDeleted: (endpoint: Endpoint) => void;
  onClose: () => void;
}

export function EndpointDialog({ action, endpoint, onRotated, onDeleted, onClose }: EndpointDialogProps) {
  const [key] = useState(newIdempotencyKey);
  const rotate = useRotateSecret();
  const remove = useDeleteEndpoint();
  const running = action === 'rotate' ? rotate : remove;
  const failed = running.isError ? <ErrorNotice error={running.error} what="That did not work" /> : null;

  if (action === 'rotate') {
    return (
      <ConfirmDialog
        title="Rotate the signing secret?"
        confirmLabel="Rotate secret"
        busyLabel="Rotating…"
        busy={rotate.isPending}
        error={failed}
        onConfirm={() =>
          rotate.mutate(
            { key, input: endpoint.id },
            {
              onSuccess: (rotated) => {
                rotate.reset();
                onRotated(rotated);
              },
            },
          )
        }
        onCancel={onClose}
      >
        <p>
          A new secret is made for <span className="mono wrap">{endpoint.url}</span> and shown
          once. The current one keeps signing beside it for 24 hours, so the receiver can switch.
        </p>
      </ConfirmDialog>
    );
  }
  return (
    <ConfirmDialog
      title="Delete this endpoint?"
      confirmLabel="Delete endpoint"
      busyLabel="Deleting…"
      danger
      busy={remove.isPending}
      error={failed}
      onConfirm={() => remove.mutate({ key, input: endpoint.id }, { onSuccess: () => onDeleted(endpoint) })}
      onCancel={onClose}
    >
      <p>
        <span className="mono wrap">{endpoint.url}</span> gets no more events, and what is still
        to be sent to it is not sent. This cannot be undone.
      </p>
    </ConfirmDialog>
  );
}
