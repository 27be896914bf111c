import { test, expect } from "./fixtures";
import { hydrated, screenshot, signIn } from "./helpers";

test("/zh pages render in Chinese", async ({ page }) => {
  await page.goto("/zh/login");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("登录");
  await expect(page.locator("html")).toHaveAttribute("lang", "zh");
  await screenshot(page, "login-zh");

  await signIn(page, "zh");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("仪表盘");
  await expect(page.getByRole("link", { name: "API 密钥" })).toBeVisible();
  await screenshot(page, "dashboard-zh");
});

test("the language switcher keeps the current page", async ({ page }) => {
  await signIn(page, "en");
  await page.getByRole("link", { name: "API keys" }).click();
  await expect(page).toHaveURL(/\/en\/keys$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("API keys");

  await page.getByTestId("lang-zh").click();
  await expect(page).toHaveURL(/\/zh\/keys$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("API 密钥");

  await page.getByTestId("lang-en").click();
  await expect(page).toHaveURL(/\/en\/keys$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("API keys");
});

test("the sidebar navigates between every page", async ({ page }) => {
  await signIn(page, "en");
  const pages: [string, string, RegExp][] = [
    ["Upstreams", "Upstreams", /\/en\/upstreams$/],
    ["Request logs", "Request logs", /\/en\/logs$/],
    ["Circuit breakers", "Circuit breakers", /\/en\/circuit-breakers$/],
    ["Dashboard", "Dashboard", /\/en$/],
  ];
  for (const [link, heading, url] of pages) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await expect(page).toHaveURL(url);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(heading);
  }
});

test("the theme toggle works after hydration and survives a reload", async ({ page }) => {
  await page.goto("/en/login");
  await hydrated(page);
  const html = page.locator("html");
  const before = await html.getAttribute("data-theme");
  await page.getByTestId("theme-toggle").click();
  const after = before === "dark" ? "light" : "dark";
  await expect(html).toHaveAttribute("data-theme", after);
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", after);
});

test("the layout is usable at phone width", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, "en");
  await expect(page.getByRole("link", { name: "Upstreams" })).toBeVisible();
  await expect(page.getByTestId("logout")).toBeVisible();
  await screenshot(page, "dashboard-en-390");
});
