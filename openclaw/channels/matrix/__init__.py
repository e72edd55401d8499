"""Matrix over the client-server API (treq): long-poll ``/sync`` per account."""
