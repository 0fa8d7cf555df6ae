"""Residents' personal data at rest: encrypted columns, a keyed blind index for exact search, and
key rotation."""
