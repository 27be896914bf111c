import { test, expect } from "./fixtures";
import type { APIRequestContext } from "@playwright/test";
import { ADMIN_TOKEN, hydrated, screenshot, signIn } from "./helpers";
import { startMock } from "./mock-upstream";

const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/** Sends one answered request for `model` through the gateway, and waits until the prices
 * page would list it as seen without a price (the log writer batches). */
async function seeUnpriced(request: APIRequestContext, mockUrl: string, model: string) {
  const up = await request.post("/api/admin/upstreams", {
    headers: auth,
    data: { name: `prices-${model}`, provider: "openai", base_url: mockUrl, api_key: "sk-e2e-prices", allowed_models: [model] },
  });
  expect(up.status()).toBe(201);
  const created = await request.post("/api/admin/keys", { headers: auth, data: { name: `prices ${model}`, upstream_ids: [(await up.json()).id] } });
  const key = (await created.json()).key_value;
  const chat = await request.post("/v1/chat/completions", {
    headers: { Authorization: `Bearer ${key}` },
    data: { model, messages: [{ role: "user", content: "hi" }] },
  });
  expect(chat.status()).toBe(200);
  await expect
    .poll(async () => (await (await request.get("/api/admin/prices/unpriced", { headers: auth })).json()).map((m: { model: string }) => m.model))
    .toContain(model);
}

async function priceOf(request: APIRequestContext, model: string) {
  const page = await (await request.get(`/api/admin/prices?q=${encodeURIComponent(model)}&page_size=100`, { headers: auth })).json();
  return page.items.find((p: { model: string }) => p.model === model);
}

test("price a model seen without one, override and reset a shipped price, delete a custom one", async ({ page, request }) => {
  const mock = await startMock();
  try {
    await seeUnpriced(request, mock.url, "e2e-unpriced-model");

    await signIn(page, "en");
    await page.getByRole("link", { name: "Model prices", exact: true }).click();
    await expect(page).toHaveURL(/\/en\/prices$/);
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Model prices");
    await expect(page.getByTestId("defaults-source")).toContainText("Shipped prices: litellm");

    // The model is listed as seen without a price, with its request.
    const panel = page.getByTestId("unpriced-panel");
    await expect(panel.getByRole("heading")).toHaveText("Models seen without a price");
    const unpriced = panel.getByTestId("unpriced-e2e-unpriced-model");
    await expect(unpriced.locator("td").nth(1)).toHaveText("1");
    await screenshot(page, "prices-unpriced-en");

    // Set its price from there; the form says what is wrong under each field.
    await unpriced.getByTestId("set-price").click();
    const dialog = page.getByTestId("price-dialog");
    const form = dialog.getByTestId("price-form");
    await expect(form.locator('input[name="model"]')).toHaveValue("e2e-unpriced-model");
    await form.locator('input[name="input"]').fill("1.5");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-output")).toHaveText("Required.");
    await form.locator('input[name="output"]').fill("lots");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-output")).toHaveText("Must be in the range 0–10000.");
    await form.locator('input[name="output"]').fill("2");
    await form.locator('input[name="cached_input"]').fill("0.0000001");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-cached_input")).toHaveText("At most 6 decimals.");
    await expect(form.getByTestId("error-output")).toHaveCount(0);
    await screenshot(page, "prices-form-errors-en");
    await form.locator('input[name="cached_input"]').fill("0.15");
    await form.getByTestId("save").click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId("toast").first()).toContainText("Price of e2e-unpriced-model saved.");
    await expect(unpriced).toHaveCount(0);
    const saved = await priceOf(request, "e2e-unpriced-model");
    expect(saved.source).toBe("custom");
    expect(saved.price).toEqual({ input: 1.5, output: 2, cached_input: 0.15, cache_write_5m: null, cache_write_1h: null });

    // Search finds it, marked custom.
    await page.getByTestId("price-search").fill("e2e-unpriced");
    const custom = page.getByTestId("price-e2e-unpriced-model");
    await expect(page.getByTestId("prices-table").locator("tbody tr")).toHaveCount(1);
    await expect(custom.getByTestId("price-input")).toHaveText("1.50");
    await expect(custom.getByTestId("price-source")).toHaveText("Custom");

    // Override a shipped price, then reset it to the default.
    await page.getByTestId("price-search").fill("gpt-4o-mini");
    const shipped = page.getByTestId("price-gpt-4o-mini");
    await expect(shipped.getByTestId("price-source")).toHaveText("Default");
    await expect(shipped.getByTestId("reset")).toHaveCount(0);
    await expect(shipped.getByTestId("delete")).toHaveCount(0);
    const before = (await priceOf(request, "gpt-4o-mini")).price;
    await shipped.getByTestId("edit").click();
    await expect(form.locator('input[name="model"]')).toHaveValue("gpt-4o-mini");
    await expect(form.locator('input[name="input"]')).toHaveValue(String(before.input));
    await form.locator('input[name="input"]').fill("0.2");
    await form.getByTestId("save").click();
    await expect(dialog).toBeHidden();
    await expect(shipped.getByTestId("price-source")).toHaveText("Override");
    await expect(shipped.getByTestId("price-input")).toHaveText("0.20");
    expect((await priceOf(request, "gpt-4o-mini")).price.input).toBe(0.2);
    await screenshot(page, "prices-en");
    await shipped.getByTestId("reset").click();
    const confirm = page.getByTestId("confirm-dialog");
    await expect(confirm).toContainText("Reset the price of gpt-4o-mini to the shipped default?");
    await confirm.getByTestId("confirm").click();
    await expect(shipped.getByTestId("price-source")).toHaveText("Default");
    expect((await priceOf(request, "gpt-4o-mini")).price).toEqual(before);

    // Delete the custom price: the model is back among those without one.
    await page.getByTestId("price-search").fill("e2e-unpriced");
    await custom.getByTestId("delete").click();
    await confirm.getByTestId("confirm").click();
    await expect(page.getByTestId("empty-state")).toHaveText("No prices match your search.");
    await expect(page.getByTestId("unpriced-e2e-unpriced-model")).toBeVisible();
  } finally {
    await mock.close();
  }
});

test("the prices page in Chinese", async ({ page, request }) => {
  const mock = await startMock();
  try {
    await seeUnpriced(request, mock.url, "e2e-zh-model");
    await signIn(page, "zh");
    await page.getByRole("link", { name: "模型价格", exact: true }).click();
    await expect(page).toHaveURL(/\/zh\/prices$/);
    await hydrated(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("模型价格");
    const panel = page.getByTestId("unpriced-panel");
    await expect(panel.getByRole("heading")).toHaveText("未定价的模型");
    const unpriced = panel.getByTestId("unpriced-e2e-zh-model");
    await expect(unpriced.getByTestId("set-price")).toHaveText("设置价格");
    await page.getByTestId("price-search").fill("claude-sonnet-4-5");
    await expect(page.getByTestId("price-claude-sonnet-4-5").getByTestId("price-source")).toHaveText("默认");
    await screenshot(page, "prices-zh");

    await unpriced.getByTestId("set-price").click();
    const dialog = page.getByTestId("price-dialog");
    await expect(dialog.getByRole("heading")).toHaveText("新增价格");
    const form = dialog.getByTestId("price-form");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-input")).toHaveText("必填。");
    await form.locator('input[name="input"]').fill("3");
    await form.locator('input[name="output"]').fill("15.0000001");
    await form.getByTestId("save").click();
    await expect(form.getByTestId("error-output")).toHaveText("最多 6 位小数。");
    await screenshot(page, "prices-form-errors-zh");
    await form.locator('input[name="output"]').fill("15");
    await form.getByTestId("save").click();
    await expect(dialog).toBeHidden();
    await expect(page.getByTestId("toast").first()).toContainText("e2e-zh-model 的价格已保存。");
    await expect(unpriced).toHaveCount(0);
    expect((await priceOf(request, "e2e-zh-model")).source).toBe("custom");
    expect((await request.delete("/api/admin/prices/e2e-zh-model", { headers: auth })).status()).toBe(204);
  } finally {
    await mock.close();
  }
});
