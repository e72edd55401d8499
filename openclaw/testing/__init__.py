"""Protocol-faithful local servers for the chat networks that cannot run on this machine.

- :mod:`openclaw.testing.telegram_bot_api`: the Telegram Bot API (``twisted.web``), for
  ``channels.telegram.apiRoot``.
- :mod:`openclaw.testing.discord_api`: Discord's REST API v10 and its gateway WebSocket
  (Autobahn), for ``DISCORD_API_URL``.

Both run in a test (the reactor passed in, a ``Clock`` for time) or on their own with
``python -m openclaw.testing.<module> --port N``. ``docs/testing-servers.md`` describes their
test-side API.
"""
