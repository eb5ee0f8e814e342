"""Training: the linear runner, model assembly, callbacks, checkpoints and resume, the
optimizer, speed settings, throughput and FLOPs, and the dry run."""
