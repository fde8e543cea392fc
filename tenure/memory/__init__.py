"""Vault chunking, embedding, the LanceDB index and hybrid search (semantic-memory issue)."""
