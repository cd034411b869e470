"""onerec_jax."""
