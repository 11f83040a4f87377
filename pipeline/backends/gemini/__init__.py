"""The Gemini backend: options and calls, the batch client, errors, the prompt and reply, quotas."""
