/**
 * A wide table that scrolls sideways on a narrow screen, inside its own box (the page
 * never does); focusable, so the keyboard can scroll it too.
 */
import type { ReactNode } from 'react';

export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
