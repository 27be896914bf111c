import { test, expect } from "./fixtures";
import { hydrated, signIn } from "./helpers";

// The suite runs against the release build (scripts/test.sh), the bundle run.sh serves and the
// Docker image ships. A bundle that fails to instantiate throws a page error, which the fixture
// turns into a failure; the theme toggle then proves the page answers clicks, which only the
// hydrated WASM does (the server-rendered button has no handler).
const pages = ["", "/keys", "/upstreams", "/logs", "/circuit-breakers"];

async function toggleTheme(page: import("@playwright/test").Page, where: string) {
  await hydrated(page);
  const html = page.locator("html");
  const before = await html.getAttribute("data-theme");
  await page.getByTestId("theme-toggle").click();
  await expect(html, `${where} answers a click`).toHaveAttribute("data-theme", before === "dark" ? "light" : "dark");
}

for (const locale of ["en", "zh"] as const) {
  test(`every page hydrates and answers a click (${locale})`, async ({ page }) => {
    await page.goto(`/${locale}/login`);
    await toggleTheme(page, `/${locale}/login`);
    await signIn(page, locale);
    for (const path of pages) {
      await page.goto(`/${locale}${path}`);
      await expect(page).toHaveURL(new RegExp(`/${locale}${path}$`));
      await toggleTheme(page, `/${locale}${path}`);
    }
  });
}

test("pages link an icon that is served; /favicon.ico and /robots.txt exist", async ({ page, request }) => {
  await page.goto("/en/login");
  const icons = await page.locator('link[rel="icon"]').evaluateAll((links) =>
    links.map((l) => (l as HTMLLinkElement).href),
  );
  expect(icons.length).toBeGreaterThan(0);
  for (const href of [...icons, new URL("/favicon.ico", page.url()).href]) {
    const res = await request.get(href);
    expect(res.status(), href).toBe(200);
    expect(res.headers()["content-type"], href).toMatch(/^image\//);
  }
  const robots = await request.get("/robots.txt");
  expect(robots.status()).toBe(200);
  expect(robots.headers()["content-type"]).toMatch(/^text\/plain/);
});
