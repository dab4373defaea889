"""Training: the one loop every run goes through, its metrics and its loader profile."""
