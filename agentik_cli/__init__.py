"""agentik: run AI agents from the terminal, keep every conversation, know what each one cost."""

__version__ = "0.1.0"
