"""Protocol-faithful local servers and clients for tests and offline use."""
