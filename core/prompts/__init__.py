"""Prompt engineering: presets with variables, few-shot sets, comparisons, chat export/import."""
