/**
 * Schemas that only document: the shapes of responses and the documented-only refinements
 * of requests, which `npm run openapi` turns into the OpenAPI document and no handler
 * validates with. Each is written `/* @__PURE__ *\/ documentedOnly(() => z.…)`: built when
 * something reads it (the document's generator, a test), and otherwise left out of the
 * Worker's bundle, since a bundler cannot tell on its own that building a schema nobody
 * reads has no effect (the annotation tells it; the closure keeps the nested calls unbuilt).
 *
 * Never wrap a schema a handler validates with: it would still work, but the name would lie.
 */
export function documentedOnly<T>(build: () => T): T {
  return build();
}
