"""Tests of the SONATA file layer (nethub.formats.sonata)."""
