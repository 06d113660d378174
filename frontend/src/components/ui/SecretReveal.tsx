/**
 * A signing secret the service shows this once: to copy now. It lives only in this
 * component's state; "I have saved it" forgets it, and nothing can fetch it again.
 */
import { useEffect, useId, useRef, useState } from 'react';

export interface SecretRevealProps {
  /** What the secret is for ("https://example.com/hooks"). */
  subject: string;
  secret: string;
  /** Why it is shown ("created", "rotated"). */
  reason: string;
  onDone: () => void;
}

async function copy(text: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard API (an insecure page, or permission refused): select it for Ctrl+C.
    field?.select();
    return document.execCommand?.('copy') ?? false;
  }
}

export function SecretReveal({ subject, secret, reason, onDone }: SecretRevealProps) {
  const heading = useRef<HTMLHeadingElement>(null);
  const field = useRef<HTMLInputElement>(null);
  const fieldId = useId();
  const [copied, setCopied] = useState<boolean | null>(null);
  useEffect(() => heading.current?.focus(), []);

  return (
    <section className="card secret" aria-labelledby={`${fieldId}-title`} data-testid="endpoint-secret">
      <h2 id={`${fieldId}-title`} ref={heading} tabIndex={-1}>
        Signing secret {reason}: shown only once
      </h2>
      <p>
        Copy the secret for <span className="wrap">{subject}</span> now and keep it with the
        receiver: it verifies the <code>webhook-signature</code> of every delivery. It is not
        shown again; rotate the secret if it is lost.
      </p>
      <div className="inline-form">
        <div className="field grow">
          <label htmlFor={fieldId}>Signing secret</label>
          <input
            id={fieldId}
            ref={field}
            className="secret-value"
            readOnly
            value={secret}
            spellCheck={false}
            autoComplete="off"
            onFocus={(event) => event.currentTarget.select()}
          />
        </div>
        <button
          type="button"
          className="button primary"
          onClick={() => void copy(secret, field.current).then(setCopied)}
        >
          Copy secret
        </button>
        <button type="button" className="button secondary" onClick={onDone}>
          I have saved it
        </button>
      </div>
      <p role="status" className="hint">
        {copied === true && 'Copied to the clipboard.'}
        {copied === false && 'The clipboard is not available here: the secret is selected, press Ctrl+C (⌘C) to copy it.'}
      </p>
    </section>
  );
}
