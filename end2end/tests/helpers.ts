import { expect, Page } from "@playwright/test";

export const ADMIN_TOKEN = process.env.E2E_ADMIN_TOKEN ?? "e2e-admin-token-0123456789";

/** Waits until the WASM bundle has hydrated the page, so clicks reach Leptos handlers. */
export async function hydrated(page: Page) {
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
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
