"""Synthetic sources: the demo's sung crescendo."""
