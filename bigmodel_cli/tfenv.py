"""Import TensorFlow quietly, once, only in the commands that need it.

`import tensorflow` costs seconds, and TensorFlow's C++ runtime prints start-up noise (oneDNN,
CUDA probes) that hides what the user asked for. Nothing else in bigmodel imports TensorFlow at
module level from the CLI path.
"""

from __future__ import annotations

import logging
import os
import warnings


def import_tensorflow(verbose: bool = False):
    if not verbose:
        # Must be set before the first import: the C++ logger reads it once.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        warnings.filterwarnings("ignore", module=r"(keras|tensorflow|tensorflow_datasets)\b")
    import tensorflow as tf

    if not verbose:
        tf.get_logger().setLevel(logging.ERROR)
        logging.getLogger("absl").setLevel(logging.ERROR)
    return tf
