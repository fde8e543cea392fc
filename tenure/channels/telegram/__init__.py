"""The Telegram channel: allowed chats talk to one agent; each message is one ``agent_turn`` flow run and
gets one reply, however often Telegram delivers it and however often the bot restarts."""
