"""Planted bugs ("mutants"): small, named variants of the real implementations that the machines
must catch. Each module holds one component family's variants."""
