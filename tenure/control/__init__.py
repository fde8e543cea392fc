"""The hybrid control plane: task types, routing, judges, confidence and gates (control-plane issues)."""
