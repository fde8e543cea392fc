"""The agent team: personas, workspaces and the turn loop (arrives with the agents issue)."""
