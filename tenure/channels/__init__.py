"""Ways into the team besides the CLI: Telegram (and the inbox). Channels sit beside the flows and
deployments: they submit flow runs and read what the runs recorded."""
