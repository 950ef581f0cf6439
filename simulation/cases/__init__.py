"""The simulated cohort's cases, by kind (see simulation.cohort)."""
