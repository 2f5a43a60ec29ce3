"""Usage: one record per client request, priced exactly, written in batches, never lost."""
