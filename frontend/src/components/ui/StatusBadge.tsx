/** A status as a coloured label; the colour only repeats what the word says. */

const LABELS: Record<string, string> = {
  pending: 'Pending',
  processed: 'Processed',
  ignored: 'Ignored',
  failed: 'Failed',
  dead: 'Dead',
  delivered: 'Delivered',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {LABELS[status] ?? status}
    </span>
  );
}
