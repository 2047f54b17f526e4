"""GPU memory estimator: parameter counts, memory estimates, measurement, GPUs, CLI."""
