"""Inbox triage: the mail Liv reads over IMAP, read-only, each message classified, mined for action
items and summarised through ``route_task``; nothing in a mail is ever an instruction."""
