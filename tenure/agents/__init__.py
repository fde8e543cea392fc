"""The agent team: workspaces (persona files, links to the shared items), MEMORY.md, and the turn with
its tools and limits. Plain Python: the ``agent_turn`` flow hands a turn its durability."""
