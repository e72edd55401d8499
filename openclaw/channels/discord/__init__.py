"""Discord: the gateway WebSocket on Autobahn in, REST (v10) on treq out."""
