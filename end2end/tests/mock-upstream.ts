import http from "node:http";
import { AddressInfo } from "node:net";

/** One request the mock answered: what a test asserts the gateway did or did not forward. */
export type MockHit = { method: string; path: string; model?: string };

/** How a stream is answered: `events` content chunks, `delayMs` apart. */
export type StreamPlan = { events: number; delayMs: number };

export type Mock = {
  url: string;
  /** Every request so far, oldest first. */
  hits: MockHit[];
  /** The ids `GET /v1/models` lists; a test may change them between fetches. */
  models: string[];
  close: () => Promise<void>;
};

/** An OpenAI chat stream, one chunk every `delayMs`, then the usage chunk and `[DONE]`. */
function slowStream(res: http.ServerResponse, plan: StreamPlan) {
  res.setHeader("content-type", "text/event-stream");
  const chunk = (delta: object, extra: object = {}) =>
    `data: ${JSON.stringify({ id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: "e2e-model", choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
  let sent = 0;
  const next = () => {
    if (sent < plan.events) {
      res.write(chunk({ content: `${sent} ` }));
      sent += 1;
      setTimeout(next, plan.delayMs);
    } else {
      res.write(`data: ${JSON.stringify({ id: "chatcmpl-e2e", object: "chat.completion.chunk", created: 0, model: "e2e-model", choices: [], usage: { prompt_tokens: 7, completion_tokens: plan.events, total_tokens: 7 + plan.events } })}\n\n`);
      res.end("data: [DONE]\n\n");
    }
  };
  next();
}

/**
 * A minimal OpenAI-compatible upstream on 127.0.0.1 for browser tests: its model list, JSON chat
 * completions, (for `"stream": true`) a slow chat stream as `stream` plans it, and JSON
 * responses (the Responses API), each with usage.
 */
export async function startMock(
  opts: { models?: string[]; stream?: StreamPlan } = {},
): Promise<Mock> {
  const stream = opts.stream ?? { events: 3, delayMs: 10 };
  const mock: Mock = { url: "", hits: [], models: opts.models ?? ["e2e-model"], close: async () => {} };
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      let model: string | undefined;
      try {
        model = JSON.parse(body).model;
      } catch {
        model = undefined;
      }
      const path = (req.url ?? "").split("?")[0];
      mock.hits.push({ method: req.method ?? "", path, model });
      if (req.method === "POST" && path === "/v1/chat/completions" && /"stream"\s*:\s*true/.test(body)) {
        slowStream(res, stream);
        return;
      }
      res.setHeader("content-type", "application/json");
      if (req.method === "GET" && path === "/v1/models") {
        res.end(JSON.stringify({ object: "list", data: mock.models.map((id) => ({ id, object: "model", created: 0, owned_by: "e2e" })) }));
      } else if (req.method === "POST" && path === "/v1/chat/completions") {
        res.end(
          JSON.stringify({
            id: "chatcmpl-e2e",
            object: "chat.completion",
            created: 0,
            model: model ?? "e2e-model",
            choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
          }),
        );
      } else if (req.method === "POST" && path === "/v1/responses") {
        res.end(
          JSON.stringify({
            id: "resp_e2e",
            object: "response",
            created_at: 0,
            status: "completed",
            model: model ?? "e2e-model",
            output: [
              {
                type: "message",
                id: "msg_e2e",
                status: "completed",
                role: "assistant",
                content: [{ type: "output_text", text: "hello", annotations: [] }],
              },
            ],
            usage: { input_tokens: 7, output_tokens: 5, total_tokens: 12 },
          }),
        );
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  mock.url = `http://127.0.0.1:${port}/v1`;
  mock.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return mock;
}
