"""Drives the official OpenAI, Anthropic and Google (google-genai) Python SDKs, unchanged,
through the gateway.

Run by tests/sdk.rs with GATEWAY_BASE (http://127.0.0.1:PORT), GATEWAY_KEY (an sk-auto- key),
GATEWAY_LIMITED_KEY (allowed one request a minute) and GATEWAY_SPENT_KEY (a daily budget of 0).
Exits non-zero on the first failed check.
"""
import os
import sys

import anthropic
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

BASE = os.environ["GATEWAY_BASE"]
KEY = os.environ["GATEWAY_KEY"]
checks = 0


def check(cond, what):
    global checks
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1


oa = openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0)

chat = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
check(chat.choices[0].message.content == "Hello from mock", f"openai chat content: {chat}")
check(chat.usage.total_tokens == 18, "openai chat usage")

text = ""
for chunk in oa.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True):
    # The usage-only chunk the gateway asked for on the client's behalf must not show up here.
    check(len(chunk.choices) == 1, f"openai stream chunk without choices: {chunk}")
    text += chunk.choices[0].delta.content or ""
check(text == "tok0 tok1 tok2 tok3 tok4 ", f"openai stream text: {text!r}")

usage_seen = None
for chunk in oa.chat.completions.create(
    model="gpt-4o-mini", messages=[], stream=True, stream_options={"include_usage": True}
):
    if chunk.usage is not None:
        usage_seen = chunk.usage
check(usage_seen is not None and usage_seen.total_tokens == 18, "openai stream usage when asked")

resp = oa.responses.create(model="gpt-4o-mini", input="hi")
check(resp.output_text == "Hello from mock", f"openai responses: {resp.output_text!r}")
emb = oa.embeddings.create(model="text-embedding-3-small", input="hi")
check(len(emb.data[0].embedding) == 3, "openai embeddings")

try:
    openai.OpenAI(base_url=f"{BASE}/v1", api_key="sk-auto-wrong", max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[]
    )
    check(False, "openai wrong key accepted")
except openai.AuthenticationError:
    checks += 1
try:
    oa.chat.completions.create(model="no-such-model", messages=[])
    check(False, "openai unknown model accepted")
except openai.NotFoundError as e:
    check("no-such-model" in str(e), "openai not-found names the model")

an = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)
msg = an.messages.create(
    model="claude-3-5-sonnet-20241022", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
)
check(msg.content[0].text == "Hello from mock", f"anthropic message: {msg}")
check(msg.usage.input_tokens == 25 and msg.usage.output_tokens == 15, "anthropic usage")

with an.messages.stream(
    model="claude-3-5-sonnet-20241022", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
) as stream:
    streamed = "".join(stream.text_stream)
    final = stream.get_final_message()
check(streamed == "tok0 tok1 tok2 tok3 tok4 ", f"anthropic stream text: {streamed!r}")
check(final.usage.output_tokens == 15, "anthropic stream usage")

try:
    anthropic.Anthropic(base_url=BASE, api_key="sk-auto-wrong", max_retries=0).messages.create(
        model="claude-3-5-sonnet-20241022", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    check(False, "anthropic wrong key accepted")
except anthropic.AuthenticationError:
    checks += 1
try:
    an.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    check(False, "anthropic unknown model accepted")
except anthropic.NotFoundError:
    checks += 1

# Limits: a key allowed one request a minute, and a key whose daily budget is spent (0 USD).
# Both SDKs raise their own RateLimitError on the gateway's 429s.
LIMITED = os.environ["GATEWAY_LIMITED_KEY"]
SPENT = os.environ["GATEWAY_SPENT_KEY"]
limited = openai.OpenAI(base_url=f"{BASE}/v1", api_key=LIMITED, max_retries=0)
first = limited.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
check(first.choices[0].message.content == "Hello from mock", "openai limited key's first request")
try:
    limited.chat.completions.create(model="gpt-4o-mini", messages=[])
    check(False, "openai second request within the minute accepted")
except openai.RateLimitError as e:
    check(e.code == "rate_limit_exceeded", f"openai rate limit code: {e.code}")
    check(int(e.response.headers["retry-after"]) >= 1, "openai rate limit retry-after")
    check(e.response.headers["x-ratelimit-limit-requests"] == "1", "openai x-ratelimit headers")
try:
    anthropic.Anthropic(base_url=BASE, api_key=LIMITED, max_retries=0).messages.create(
        model="claude-3-5-sonnet-20241022", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    check(False, "anthropic request over the rate limit accepted")
except anthropic.RateLimitError as e:
    check(e.body["error"]["type"] == "rate_limit_error", f"anthropic rate limit type: {e.body}")
    check(e.response.headers["anthropic-ratelimit-requests-limit"] == "1", "anthropic headers")
try:
    openai.OpenAI(base_url=f"{BASE}/v1", api_key=SPENT, max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=[]
    )
    check(False, "openai request over a spent budget accepted")
except openai.RateLimitError as e:
    check(e.code == "insufficient_quota", f"openai budget code: {e.code}")
try:
    anthropic.Anthropic(base_url=BASE, api_key=SPENT, max_retries=0).messages.create(
        model="claude-3-5-sonnet-20241022", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    check(False, "anthropic request over a spent budget accepted")
except anthropic.RateLimitError:
    checks += 1

# Google's own SDK, as its documentation has it, pointed at the gateway: it calls `/v1/models/…`
# (its default API version) with the key in `x-goog-api-key`.
google = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=BASE))
answer = google.models.generate_content(model="gemini-2.5-flash", contents="hi")
check(answer.text == "Hello from mock", f"google generate_content: {answer}")
check(answer.usage_metadata.total_token_count == 36, f"google usage: {answer.usage_metadata}")
check(answer.usage_metadata.thoughts_token_count == 6, "google thoughts tokens")
streamed = "".join(
    chunk.text or "" for chunk in google.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
)
check(streamed == "tok0 tok1 tok2 tok3 tok4 ", f"google stream text: {streamed!r}")
counted = google.models.count_tokens(model="gemini-2.5-flash", contents="hi")
check(counted.total_tokens == 21, f"google count_tokens: {counted}")
embedded = google.models.embed_content(model="text-embedding-004", contents=["a", "b"])
check(
    [len(e.values) for e in embedded.embeddings] == [3, 3], f"google embed_content: {embedded}"
)
listed = [m.name for m in google.models.list()]
check("models/gemini-2.5-flash" in listed, f"google models.list: {listed}")
check(not any(n.startswith("models/gpt") for n in listed), f"only Gemini-reachable models: {listed}")
beta = genai.Client(
    api_key=KEY, http_options=genai_types.HttpOptions(base_url=BASE, api_version="v1beta")
)
check(
    beta.models.generate_content(model="gemini-2.5-flash", contents="hi").text == "Hello from mock",
    "google v1beta generate_content",
)
try:
    google.models.generate_content(model="gemini-no-such-model", contents="hi")
    check(False, "google unknown model accepted")
except genai_errors.ClientError as e:
    check(e.code == 404 and e.status == "NOT_FOUND", f"google not found: {e.code} {e.status}")
    check("gemini-no-such-model" in (e.message or ""), f"google not-found names the model: {e}")
# Held in a name: a google-genai client closes its connection when it is collected.
wrong = genai.Client(api_key="sk-auto-wrong", http_options=genai_types.HttpOptions(base_url=BASE))
try:
    wrong.models.generate_content(model="gemini-2.5-flash", contents="hi")
    check(False, "google wrong key accepted")
except genai_errors.ClientError as e:
    check(e.code == 401 and e.status == "UNAUTHENTICATED", f"google wrong key: {e.code} {e.status}")

print(f"sdk checks ok: {checks}")
