"""On-disk formats of nethub: one plugin module per format."""
