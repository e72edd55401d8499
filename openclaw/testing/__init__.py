"""Protocol-faithful local servers (and clients) for what cannot run on this machine.

- :mod:`openclaw.testing.telegram_bot_api`: the Telegram Bot API (``twisted.web``), for
  ``channels.telegram.apiRoot``.
- :mod:`openclaw.testing.discord_api`: Discord's REST API v10 and its gateway WebSocket
  (Autobahn), for ``DISCORD_API_URL``.
- :mod:`openclaw.testing.gemini_live`: Gemini Live (``BidiGenerateContent``), the voice of
  the VoiceClaw endpoint; :mod:`openclaw.testing.voiceclaw_client` is the desktop app's side.

Each runs in a test (the reactor passed in, a ``Clock`` for time) or on their own with
``python -m openclaw.testing.<module> --port N``. ``docs/testing-servers.md`` describes their
test-side API.
"""
