"""Using a trained run: evaluate, predict, and reading raw inputs into batches."""
