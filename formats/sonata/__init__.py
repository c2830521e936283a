"""SONATA file layer: bytes <-> native objects (configs, nodes, edges, node sets, spikes,
reports), no canonical mapping (that is :mod:`nethub.converters.sonata`'s job)."""
