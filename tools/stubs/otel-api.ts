// What prom-client asks of @opentelemetry/api (exemplars, which the controller
// never enables), without the package: bundling the real one cost the
// controller ~5 MiB RSS at start (measured: README "Libraries"). With
// exemplars off, prom-client never calls these.
export const trace = { getSpan: (): undefined => undefined };
export const context = { active: (): undefined => undefined };
export default { trace, context };
