"""Presets: TOML to validated, frozen dataclasses, values typed once at the door; ``--set``."""
