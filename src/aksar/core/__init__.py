"""Shared foundations used by every layer: errors, config plumbing, atomic I/O, seeding."""
from aksar.core.errors import AksarError

__all__ = ["AksarError"]
