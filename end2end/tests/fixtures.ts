import { test as base, expect } from "@playwright/test";

/**
 * Every test's page fails the test on an uncaught script error (a bundle that cannot hydrate
 * throws one), on a console error, and on any answer of 400 or more to a request the page made.
 * The one exception: a server function of the UI's own (`/api/ui/*`) refusing bad input with a
 * 4xx other than 404. The page shows those as a localized message, which the tests assert, and
 * Chromium reports each as a "Failed to load resource" console error.
 */
export const test = base.extend({
  page: async ({ page, baseURL }, use) => {
    const origin = new URL(baseURL ?? "http://127.0.0.1:3000").origin;
    const problems: string[] = [];
    const refusals = new Set<string>();
    const consoleErrors: { text: string; url: string }[] = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push({ text: m.text(), url: m.location().url });
    });
    page.on("response", (r) => {
      const status = r.status();
      if (status < 400) return;
      const url = r.url();
      if (url.startsWith(`${origin}/api/ui/`) && status < 500 && status !== 404) {
        refusals.add(url);
        return;
      }
      problems.push(`${status} from ${r.request().method()} ${url}`);
    });

    await use(page);

    for (const { text, url } of consoleErrors) {
      if (text.startsWith("Failed to load resource") && refusals.has(url)) continue;
      problems.push(`console error: ${text}${url ? ` (${url})` : ""}`);
    }
    expect(problems, "page errors, console errors and failed requests").toEqual([]);
  },
});

export { expect };
