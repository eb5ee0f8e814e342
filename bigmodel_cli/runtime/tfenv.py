"""Import TensorFlow quietly, once, only in the commands that need it.

`import tensorflow` costs seconds, and TensorFlow's C++ runtime prints start-up noise (oneDNN,
CUDA probes) that hides what the user asked for. Nothing else in bigmodel imports TensorFlow at
module level from the CLI path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings


def import_tensorflow(verbose: bool = False):
    if not verbose:
        # Must be set before the first import: the C++ logger reads it once.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        warnings.filterwarnings("ignore", module=r"(keras|tensorflow|tensorflow_datasets)\b")
    with _quiet_native_stderr(enabled=not verbose and "tensorflow" not in sys.modules):
        import tensorflow as tf

    if not verbose:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    return tf


@contextlib.contextmanager
def _quiet_native_stderr(enabled: bool):
    """Send file descriptor 2 to /dev/null while TensorFlow loads.

    TensorFlow 2.21 logs from C++ before absl's logger is initialized ("oneDNN custom
    operations are on", CUDA probes), and no environment variable silences that. Python
    exceptions raised by the import still reach the user: they are printed after this block.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
