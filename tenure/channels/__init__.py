"""Telegram and IMAP/SMTP channels (channels issue)."""
