import http from "node:http";
import { AddressInfo } from "node:net";

/** How a stream is answered: `events` content chunks, `delayMs` apart. */
export type StreamPlan = { events: number; delayMs: number };

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
 * A minimal OpenAI-compatible upstream on 127.0.0.1 for browser tests: JSON chat completions,
 * and (for `"stream": true`) a slow chat stream as `stream` plans it.
 */
export async function startMock(
  stream: StreamPlan = { events: 3, delayMs: 10 },
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/chat/completions" && /"stream"\s*:\s*true/.test(body)) {
        slowStream(res, stream);
        return;
      }
      res.setHeader("content-type", "application/json");
      if (req.method === "GET" && req.url === "/v1/models") {
        res.end(JSON.stringify({ object: "list", data: [{ id: "e2e-model", object: "model", created: 0, owned_by: "e2e" }] }));
      } else if (req.method === "POST" && req.url === "/v1/chat/completions") {
        res.end(
          JSON.stringify({
            id: "chatcmpl-e2e",
            object: "chat.completion",
            created: 0,
            model: "e2e-model",
            choices: [{ index: 0, message: { role: "assistant", content: "hello" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
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
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
