"""Telegram: the Bot API over treq, long polling (``getUpdates``) with a persisted offset."""
