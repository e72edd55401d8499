"""Auth decisions shared by the WebSocket plane and HTTP: credentials, origins, rate limits,
scopes and network address classes."""
