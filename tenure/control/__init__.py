"""The hybrid control plane: task types (one module each), routing, shadowing, judges, the evidence
rules, gates, promotions and the scoreboard. Plain Python: the flows give it schedules and retries."""
