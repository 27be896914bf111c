-- The API formats an upstream is sent (chat_completions, messages, gemini, ...): a JSON array.
-- NULL: the provider's defaults (OpenAI's formats for openai and openai_compatible, messages
-- for anthropic, chat_completions, embeddings and gemini for google).
ALTER TABLE upstreams ADD COLUMN api_formats TEXT;
