"""Public model names to deployments: the immutable routing table and the holder that swaps it."""
