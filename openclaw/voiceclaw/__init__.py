"""VoiceClaw real-time voice endpoint support (`/voiceclaw/realtime`)."""
