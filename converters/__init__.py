"""Converters between native model vocabularies and the canonical nethub Network."""
