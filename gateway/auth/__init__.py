"""Who is calling: API key resolution from memory, and its invalidation across processes."""
