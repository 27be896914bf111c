#!/usr/bin/env python3
"""Regenerates src/server/db/default_prices.json, the model prices the gateway ships.

The source is the price list that the LiteLLM project maintains and ships inside its PyPI
package (`litellm/model_prices_and_context_window_backup.json`). The script downloads the
newest wheel with pip (no dependencies, into a temporary folder), keeps the text models
(chat, completion, responses, embedding) of OpenAI, Anthropic and Google's Gemini API, and
writes them sorted, in the gateway's integer units: micro-USD per million tokens (a per-token
price in USD times 10^12).

    scripts/refresh_prices.py              # newest litellm on PyPI
    scripts/refresh_prices.py --version 1.110.2
    scripts/refresh_prices.py --wheel path/to/litellm-....whl

What is kept and how it maps (docs/spend.md, "Prices"):
- `input_cost_per_token` -> input, `output_cost_per_token` -> output,
  `cache_read_input_token_cost` -> cached_input,
  `cache_creation_input_token_cost` -> cache_write_5m,
  `cache_creation_input_token_cost_above_1hr` -> cache_write_1h; for an Anthropic model without
  it, 2 x input, Anthropic's published price of a 1-hour cache write.
- Left out: fine-tuned entries (`ft:`), entries under another provider (Azure, Bedrock,
  Vertex, regional copies), image, audio, speech, realtime, music and video models, and
  entries without a per-token price. Tiered prices (above 128k/200k/272k tokens), batch,
  flex and priority prices are not carried: the gateway prices every token at the base rate.
- Gemini's `gemini/` prefix is dropped, so names match what clients send; when both a
  prefixed and an unprefixed entry exist, the prefixed one (the Gemini API's own) wins.

Admin overrides live in the database (table model_prices) and are never touched by this file,
so they survive a refresh.
"""
import argparse
import datetime
import decimal
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "src", "server", "db", "default_prices.json")
MEMBER = "litellm/model_prices_and_context_window_backup.json"

PROVIDERS = {"openai": "openai", "text-completion-openai": "openai", "anthropic": "anthropic", "gemini": "google"}
MODES = {"chat", "completion", "responses", "embedding"}
# Models whose main output is not text, even when listed as chat.
NOT_TEXT = re.compile(r"(audio|tts|realtime|image|lyria|transcribe|speech|veo|imagen|video)")


def micros(value):
    """USD per token -> integer micro-USD per million tokens, exactly (half up past 6 decimals)."""
    if value is None:
        return None
    d = decimal.Decimal(repr(float(value))) * (10**12)
    return int(d.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))


def fetch_wheel(version, workdir):
    spec = f"litellm=={version}" if version else "litellm"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary=:all:", "-q", "-d", workdir],
        check=True,
    )
    wheels = glob.glob(os.path.join(workdir, "litellm-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one litellm wheel in {workdir}, found {wheels}")
    return wheels[0]


def convert(table):
    prices = {}
    origin = {}
    for key, entry in table.items():
        if not isinstance(entry, dict):
            continue
        provider = PROVIDERS.get(entry.get("litellm_provider"))
        if provider is None or entry.get("mode") not in MODES:
            continue
        name = key
        prefixed = name.startswith("gemini/")
        if prefixed:
            name = name[len("gemini/"):]
        if name.startswith("ft:") or "/" in name or NOT_TEXT.search(name):
            continue
        outputs = entry.get("supported_output_modalities")
        if outputs is not None and "text" not in outputs:
            continue
        if entry.get("input_cost_per_token") is None or entry.get("output_cost_per_token") is None:
            continue
        if name in prices and not (prefixed and not origin[name]):
            continue
        price = {
            "input": micros(entry["input_cost_per_token"]),
            "output": micros(entry["output_cost_per_token"]),
        }
        optional = {
            "cached_input": micros(entry.get("cache_read_input_token_cost")),
            "cache_write_5m": micros(entry.get("cache_creation_input_token_cost")),
            "cache_write_1h": micros(entry.get("cache_creation_input_token_cost_above_1hr")),
        }
        if provider == "anthropic" and optional["cache_write_1h"] is None:
            optional["cache_write_1h"] = 2 * price["input"]
        price.update({k: v for k, v in optional.items() if v is not None})
        prices[name] = price
        origin[name] = prefixed
    return dict(sorted(prices.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", help="the litellm version to read (default: the newest)")
    parser.add_argument("--wheel", help="a litellm wheel already downloaded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        wheel = args.wheel or fetch_wheel(args.version, workdir)
        version = os.path.basename(wheel).split("-")[1]
        with zipfile.ZipFile(wheel) as z:
            table = json.loads(z.read(MEMBER))
    prices = convert(table)
    document = {
        "source": f"litellm {version} (PyPI), {MEMBER}",
        "generated": datetime.date.today().isoformat(),
        "unit": "micro-USD per million tokens",
        "prices": prices,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=1, sort_keys=False)
        f.write("\n")
    print(f"wrote {len(prices)} prices from litellm {version} to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
