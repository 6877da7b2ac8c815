"""Prompt-editing operators and their registry (PromptFlow issue)."""
