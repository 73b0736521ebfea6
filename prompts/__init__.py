"""Prompt templates as files (one per task); loaded and checked by the assistant."""
