"""Rule-based state machines, one per component; target-parametrised."""
