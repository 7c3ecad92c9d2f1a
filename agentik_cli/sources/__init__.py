"""Other tools' usage logs (Claude Code, Codex, Gemini CLI, llm), read into agentik's values: the
calls each made, with their tokens, model and time, the words said around them, and where to go on
reading next time. Reads files only: no store, no prices (services/usage_import.py decides and
writes). Each source is a module with a `SOURCE` (sources/base.Source)."""
