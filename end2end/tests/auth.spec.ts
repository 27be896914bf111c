import { test, expect } from "./fixtures";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";

test("a wrong token shows a localized error, in English and in Chinese", async ({ page }) => {
  await page.goto("/en/login");
  await hydrated(page);
  await page.getByTestId("token-input").fill("definitely-not-the-token");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toHaveText("That admin token is not valid.");
  await expect(page).toHaveURL(/\/en\/login$/);
  await screenshot(page, "login-error-en");

  await page.goto("/zh/login");
  await hydrated(page);
  await page.getByTestId("token-input").fill("definitely-not-the-token");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toHaveText("管理员令牌无效。");
});

test("the right token reaches the dashboard, a reload keeps the session, logout returns to login", async ({ page, context }) => {
  await signIn(page, "en");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dashboard");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "ar_session");
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe("Strict");
  expect(session?.value).not.toContain(ADMIN_TOKEN);
  await screenshot(page, "dashboard-en");

  await page.reload();
  await expect(page).toHaveURL(/\/en$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dashboard");

  await hydrated(page);
  await page.getByTestId("logout").click();
  await expect(page).toHaveURL(/\/en\/login$/);
  // The session is really gone: the dashboard sends us back to login.
  await page.goto("/en/keys");
  await expect(page).toHaveURL(/\/en\/login$/);
});

test("a dashboard URL without a session redirects to login", async ({ page }) => {
  for (const path of ["/en", "/en/upstreams", "/zh/logs"]) {
    await page.goto(path);
    const locale = path.split("/")[1];
    await expect(page).toHaveURL(new RegExp(`/${locale}/login$`));
  }
});
