"""Devices: Ed25519 device identities, the paired-device store and pairing requests."""
