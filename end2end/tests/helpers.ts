import { expect, Page } from "@playwright/test";

export const ADMIN_TOKEN = process.env.E2E_ADMIN_TOKEN ?? "e2e-admin-token-0123456789";

/** Waits until the WASM bundle has hydrated the page, so clicks reach Leptos handlers. */
export async function hydrated(page: Page) {
  try {
    await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  } catch (e) {
    // Say what the page loaded (and what it did not), so a failure here can be diagnosed.
    const loaded = await page.evaluate(() =>
      performance.getEntriesByType("resource").map((r) => {
        const t = r as PerformanceResourceTiming;
        return `${t.name} ${t.responseStatus ?? "?"} ${t.transferSize} B in ${Math.round(t.duration)} ms`;
      }),
    );
    throw new Error(`the page did not hydrate within 30 s; resources loaded:\n${loaded.join("\n")}\n${e}`);
  }
}

export async function signIn(page: Page, locale: "en" | "zh" = "en") {
  await page.goto(`/${locale}/login`);
  await hydrated(page);
  await page.getByTestId("token-input").fill(ADMIN_TOKEN);
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(new RegExp(`/${locale}$`));
  await hydrated(page);
}

export async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
}
