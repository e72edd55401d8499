"""IRC (RFC 1459/2812) on ``twisted.words.protocols.irc``: one ``ClientService`` per account."""
