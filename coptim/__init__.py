"""coptim."""
