"""The fuzz command: state machines in worker processes sharing one example database."""
