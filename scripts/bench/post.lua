-- wrk script for the benchmark: a non-streaming chat completion, compact JSON.
wrk.method = "POST"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"hi"}]}'
wrk.headers["Content-Type"] = "application/json"
