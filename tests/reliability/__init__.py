"""The fault suite: real gateway processes under concurrency, crashes, bad input, slow clients
and failing upstreams. Sizes are small by default (CI); ``RELIABILITY_<NAME>`` environment
variables make them larger (see docs/reliability.md)."""
