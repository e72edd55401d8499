"""VoiceClaw: the real-time voice endpoint ``/voiceclaw/realtime`` (``docs/voiceclaw.md``).

Gemini Live does the real-time audio, OpenClaw is the brain. ``protocol`` (client events and
texts), ``session`` (one client socket), ``gemini`` (the Gemini Live client), ``tools`` and
``brain`` (agent tools handed to Gemini), ``recorder`` (the session store), ``endpoint`` (the
Autobahn server side), ``resample`` (24 -> 16 kHz). Nothing here imports the gateway: its
wiring (``openclaw.gateway.voiceclaw_wiring``) hands the endpoint what it needs.
"""
