"""Prompt engineering: presets with variables, few-shot sets, comparisons. Below the store,
which keeps presets and comparisons (export and import live there, the CLI in core.cli_prompts)."""
