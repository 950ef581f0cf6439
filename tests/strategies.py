"""Hypothesis strategies shared by the engine tests."""

from hypothesis import strategies as st

# Moderate magnitudes: large enough to matter, small enough that products and central
# differences stay well inside float precision.
small_floats = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False)
nonzero_floats = small_floats.filter(lambda x: abs(x) > 0.1)
positive_floats = st.floats(min_value=0.1, max_value=10.0)
exponents = st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.5])
