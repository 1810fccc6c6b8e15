// Words, dates and times for the browser code, in the page's language (docs/architecture.md,
// "Languages"). The words come from Django's JavaScript catalog, which base.html loads before any
// module (`/jsi18n/`, the djangojs catalogs); mark every text a person reads with gettext() so
// `make messages` finds it. Times follow `<html lang>` and the person's 12/24-hour choice
// (`<html data-hour-cycle>`), shaped like the server's `|clock` and `|day_and_time:"D j M"`.
const catalog = globalThis.django ?? {};
const root = globalThis.document?.documentElement;
export const language = root?.lang || "en";
const hourCycle = root?.dataset.hourCycle === "h12" ? "h12" : "h23";
// The zone the server writes times in (the person's own): a script's times match the page's.
const pageZone = root?.dataset.timeZone || undefined;

export const gettext = (text) => (catalog.gettext ? catalog.gettext(text) : text);

export const ngettext = (one, many, count) =>
  catalog.ngettext ? catalog.ngettext(one, many, count) : count === 1 ? one : many;

// interpolate("%(name)s is typing…", { name }): named placeholders, as in the Python code.
export const interpolate = (text, fields) =>
  text.replace(/%\((\w+)\)s/g, (_, key) => String(fields[key] ?? ""));

const formats = new Map();
function formatter(timeZone = pageZone, options = {}) {
  const key = `${timeZone ?? ""}|${JSON.stringify(options)}`;
  if (!formats.has(key)) {
    try {
      formats.set(key, new Intl.DateTimeFormat(language, { timeZone, ...options }));
    } catch {
      formats.set(key, new Intl.DateTimeFormat(language, options)); // a zone the browser lacks
    }
  }
  return formats.get(key);
}

// "16:57" or "4:57 PM" ("4:57 p. m." in Spanish), in `timeZone` or the page's.
// Browsers write "p. m." with narrow or no-break spaces; the server writes plain ones.
export function clock(date, timeZone) {
  const hour = hourCycle === "h23" ? "2-digit" : "numeric";
  return formatter(timeZone, { hour, minute: "2-digit", hourCycle }).format(date).replace(/[\u00a0\u202f]/g, " ");
}

// "Fri 27 Nov, 16:57" ("sáb 5 Dic, 16:57"): the server's day_and_time:"D j M", whose month is
// Django's capitalised three letters (browsers write "sept." or "dic").
export function dayAndTime(date, timeZone) {
  const parts = formatter(timeZone, { weekday: "short", day: "numeric", month: "short" }).formatToParts(date);
  const part = (type) => parts.find((p) => p.type === type)?.value.replace(/\.$/, "") ?? "";
  const month = part("month").slice(0, 3);
  const capital = month.charAt(0).toLocaleUpperCase(language) + month.slice(1);
  return `${part("weekday")} ${part("day")} ${capital}, ${clock(date, timeZone)}`;
}
