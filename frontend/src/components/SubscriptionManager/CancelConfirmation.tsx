/** "Cancel at period end?": asked in place, focus on the safe answer, Escape keeps the plan. */
import { type KeyboardEvent, useEffect, useId, useRef } from 'react';

export interface CancelConfirmationProps {
  planName: string;
  /** The end of the paid period, already formatted; null when unknown. */
  endsOn: string | null;
  busy: boolean;
  onConfirm: () => void;
  onKeep: () => void;
}

export function CancelConfirmation(props: CancelConfirmationProps) {
  const keep = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const textId = useId();
  useEffect(() => keep.current?.focus(), []);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Escape' && !props.busy) props.onKeep();
  }

  const until = props.endsOn ? `until ${props.endsOn}` : 'until the end of the paid period';
  return (
    <div
      className="confirmation"
      role="alertdialog"
      aria-labelledby={titleId}
      aria-describedby={textId}
      onKeyDown={onKeyDown}
    >
      <h3 id={titleId}>Cancel {props.planName}?</h3>
      <p id={textId}>
        It will not renew. You keep the plan and its credits {until}; nothing is refunded.
      </p>
      <div className="actions">
        <button
          type="button"
          className="button danger"
          disabled={props.busy}
          onClick={props.onConfirm}
        >
          {props.busy ? 'Canceling…' : 'Yes, cancel at period end'}
        </button>
        <button
          ref={keep}
          type="button"
          className="button secondary"
          disabled={props.busy}
          onClick={props.onKeep}
        >
          Keep my plan
        </button>
      </div>
    </div>
  );
}
