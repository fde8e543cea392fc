"""The score/run log and its DuckDB views; the only code that knows file formats (control-plane issue)."""
