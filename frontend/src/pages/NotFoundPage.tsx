/** Any route the table does not know. */
export function NotFoundPage() {
  return (
    <>
      <h1 tabIndex={-1}>Page not found</h1>
      <p>
        <a href="#/">Back to pricing</a>
      </p>
    </>
  );
}
