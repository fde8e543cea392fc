"""The notes vault: reading notes, chunking, embedding, incremental index passes and hybrid search."""
