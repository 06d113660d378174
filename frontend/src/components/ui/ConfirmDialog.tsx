/**
 * A modal confirmation: focus starts on the safe answer and stays inside (Tab and Shift+Tab
 * cycle; the page behind is inert), Escape cancels, and focus goes back to what opened it
 * (or to the page's heading when that is gone, say after a delete).
 */
import { type KeyboardEvent, type ReactNode, useEffect, useId, useRef } from 'react';
import { createPortal } from 'react-dom';

export interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busyLabel?: string;
  cancelLabel?: string;
  danger?: boolean;
  busy?: boolean;
  /** Shown in the dialog when the action failed, so it can be tried again or canceled. */
  error?: ReactNode;
  onConfirm: () => void;
  onCancel: () => void;
}

// Buttons stay focusable while busy (aria-disabled), so focus never falls out of the dialog.
const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select, textarea, [tabindex]:not([tabindex="-1"])';

/** Everything but the dialog is inert while it is open; undone on close. */
function makeRestInert(host: HTMLElement): () => void {
  const made = Array.from(document.body.children).filter(
    (element) => element !== host && !element.hasAttribute('inert'),
  );
  for (const element of made) element.setAttribute('inert', '');
  return () => {
    for (const element of made) element.removeAttribute('inert');
  };
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const { busy = false } = props;
  const titleId = useId();
  const textId = useId();
  const box = useRef<HTMLDivElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const host = useRef<HTMLDivElement | null>(null);
  if (host.current === null && typeof document !== 'undefined') {
    host.current = document.createElement('div');
  }

  useEffect(() => {
    const mount = host.current;
    if (!mount) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    document.body.appendChild(mount);
    const undoInert = makeRestInert(mount);
    cancel.current?.focus();
    return () => {
      undoInert();
      mount.remove();
      const back = opener?.isConnected ? opener : document.querySelector<HTMLElement>('h1');
      back?.focus();
    };
  }, []);

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Escape') {
      event.stopPropagation();
      if (!busy) props.onCancel();
      return;
    }
    if (event.key !== 'Tab' || !box.current) return;
    const stops = Array.from(box.current.querySelectorAll<HTMLElement>(FOCUSABLE));
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (!first || !last) {
      event.preventDefault();
      return;
    }
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  }

  if (!host.current) return null;
  return createPortal(
    <div className="dialog-backdrop">
      <div
        ref={box}
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={textId}
        onKeyDown={onKeyDown}
      >
        <h2 id={titleId}>{props.title}</h2>
        <div id={textId}>{props.children}</div>
        {props.error}
        <div className="actions">
          <button
            type="button"
            className={`button ${props.danger ? 'danger' : 'primary'}`}
            aria-disabled={busy}
            onClick={() => {
              if (!busy) props.onConfirm();
            }}
          >
            {busy ? (props.busyLabel ?? 'Working…') : props.confirmLabel}
          </button>
          <button
            ref={cancel}
            type="button"
            className="button secondary"
            aria-disabled={busy}
            onClick={() => {
              if (!busy) props.onCancel();
            }}
          >
            {props.cancelLabel ?? 'Cancel'}
          </button>
        </div>
      </div>
    </div>,
    host.current,
  );
}
