// Type-ahead for the diagnosis code search: as the therapist types, the list of billable codes
// under the search box is refreshed from the code search endpoint (codes only, no client data).
// Without this script the search form works as a plain GET form.
import { gettext, interpolate } from "../rapport/i18n.js";

const form = document.querySelector("form[data-code-search]");
const input = form?.querySelector("input[name=q]");
const results = document.getElementById("code-results");
const codeField = document.getElementById("id_code");
let timer;
let latest = 0;

function show(items) {
  results.replaceChildren();
  if (!items.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = gettext("No billable code matches.");
    results.append(p);
    return;
  }
  const list = document.createElement("ul");
  list.className = "agenda";
  for (const { code, description } of items) {
    const item = document.createElement("li");
    const strong = document.createElement("strong");
    strong.textContent = code;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = gettext("Record");
    button.setAttribute("aria-label", interpolate(gettext("Record %(code)s"), { code }));
    button.addEventListener("click", () => {
      codeField.value = code;
      codeField.focus();
    });
    item.append(strong, ` ${description} `, button);
    list.append(item);
  }
  results.append(list);
}

async function refresh() {
  const query = input.value.trim();
  const ticket = ++latest;
  if (query.length < 2) return;
  const url = `${form.dataset.codeSearch}?q=${encodeURIComponent(query)}`;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok || ticket !== latest) return;
  show((await response.json()).results);
}

if (form && input && results && codeField) {
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });
}
