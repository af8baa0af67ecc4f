"""Property-based and stateful tests: models, machines, harness, planted variants."""
