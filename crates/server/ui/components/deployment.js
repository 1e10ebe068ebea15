// A deployment's pieces several pages show: where its page is and its schedules in words.

/** The address of a deployment's page. */
export function deploymentHref(id) {
  return `/deployments/deployment/${encodeURIComponent(id)}`;
}

/** A schedule in a few words: "cron 0 9 * * * (Europe/Berlin)", "every 3600 s". */
export function describeSchedule(s) {
  const zone = s.timezone || "UTC";
  if (s.cron) return `cron ${s.cron} (${zone})`;
  if (s.interval) return `every ${s.interval} s`;
  if (s.rrule) return `rrule ${s.rrule}`;
  return "—";
}
