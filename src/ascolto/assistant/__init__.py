"""Tier-1 assistant: triage (language, intent, sentiment), later the bot and themes."""
