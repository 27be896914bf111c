import { test, expect } from "./fixtures";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

test("create, test, edit and delete an upstream, and set the balancing strategy", async ({ page, request }) => {
  const mock = await startMock();
  try {
    await signIn(page, "en");
    await page.getByRole("link", { name: "Upstreams", exact: true }).click();
    await expect(page).toHaveURL(/\/en\/upstreams$/);
    await hydrated(page);

    await page.getByTestId("new-upstream").click();
    const dialog = page.getByTestId("upstream-dialog");
    const form = dialog.getByTestId("upstream-form");
    await form.locator('input[name="name"]').fill("ui-upstream");
    await form.locator('input[name="api_key"]').fill("sk-e2e-ui-upstream-key");

    // Inline messages: the URL's scheme, an SSRF refusal, a redirect cycle.
    await form.locator('input[name="base_url"]').fill("ftp://example.com/v1");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-base_url")).toHaveText("Only http:// and https:// URLs are allowed.");
    await form.locator('input[name="base_url"]').fill("http://169.254.169.254/latest");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-base_url")).toContainText("Refused: 169.254.169.254");
    await form.locator('input[name="base_url"]').fill(mock.url);
    await form.locator('textarea[name="model_redirects"]').fill("alpha = beta\nbeta = alpha");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-model_redirects")).toHaveText("These redirects form a cycle: alpha → beta → alpha.");
    await expect(form.getByTestId("error-base_url")).toHaveCount(0);
    await screenshot(page, "upstream-form-errors-en");
    await form.locator('textarea[name="model_redirects"]').fill("alpha = e2e-model");

    // Test the typed values before saving.
    await form.getByTestId("test-form").click();
    await expect(form.getByTestId("test-result")).toContainText("Connected in");
    await form.getByTestId("save").click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId("toast").first()).toContainText("ui-upstream");

    const row = page.getByTestId("upstream-ui-upstream");
    await expect(row).toContainText(mock.url);
    await expect(row.getByTestId("upstream-breaker")).toHaveText("Closed");
    const list = await (await request.get("/api/admin/upstreams?page_size=100", { headers: auth })).json();
    const saved = list.items.find((u: { name: string }) => u.name === "ui-upstream");
    expect(saved.model_redirects).toEqual({ alpha: "e2e-model" });
    expect(saved.api_key_masked).toBe("sk-***-key");

    // A saved upstream is tested with its stored key.
    await row.getByTestId("test").click();
    await expect(page.getByTestId("toast").filter({ hasText: "Connected in" })).toBeVisible();

    // Edit: an empty key field keeps the stored key.
    await row.getByTestId("edit").click();
    await expect(form.locator('input[name="name"]')).toHaveValue("ui-upstream");
    await form.locator('input[name="weight"]').fill("5");
    await form.locator('input[name="priority"]').fill("2");
    await form.getByTestId("save").click();
    await expect(dialog).toBeHidden();
    await expect(row.locator("td").nth(3)).toHaveText("2");
    await expect(row.locator("td").nth(4)).toHaveText("5");
    const edited = await (await request.get(`/api/admin/upstreams/${saved.id}`, { headers: auth })).json();
    expect(edited.weight).toBe(5);
    expect(edited.api_key_masked).toBe("sk-***-key");

    // The balancing strategy.
    await page.getByTestId("strategy").selectOption("round_robin");
    await page.getByTestId("max-attempts").fill("2");
    await page.getByTestId("save-balancing").click();
    await expect(page.getByTestId("toast").filter({ hasText: "Balancing settings saved." })).toBeVisible();
    let settings = await (await request.get("/api/admin/settings", { headers: auth })).json();
    expect(settings.lb_strategy).toBe("round_robin");
    expect(settings.max_attempts).toBe(2);
    await page.getByTestId("max-attempts").fill("11");
    await page.getByTestId("save-balancing").click();
    await expect(page.getByTestId("error-max_attempts")).toHaveText("Must be in the range 1–10.");
    await page.getByTestId("strategy").selectOption("weighted");
    await page.getByTestId("max-attempts").fill("3");
    await page.getByTestId("save-balancing").click();
    await expect(page.getByTestId("error-max_attempts")).toHaveCount(0);
    await expect.poll(async () => (await (await request.get("/api/admin/settings", { headers: auth })).json()).lb_strategy).toBe("weighted");
    await screenshot(page, "upstreams-en");

    // Delete, confirmed.
    await row.getByTestId("delete").click();
    await page.getByTestId("confirm-dialog").getByTestId("confirm").click();
    await expect(row).toHaveCount(0);
    expect((await request.get(`/api/admin/upstreams/${saved.id}`, { headers: auth })).status()).toBe(404);
  } finally {
    await mock.close();
  }
});
