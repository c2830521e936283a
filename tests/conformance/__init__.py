"""Conformance of every built-in format to nethub.testing (docs/testing.md)."""
