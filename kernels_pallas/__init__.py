"""kernels_pallas."""
