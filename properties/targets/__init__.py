"""Targets: adapters that let one machine drive several implementations (DESIGN principle 5)."""
