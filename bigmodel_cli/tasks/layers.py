"""Keras objects the tasks put into saved models, registered by name for safe-mode loading.

Registered under the package name "bigmodel" (as the models' layers are), not a module path,
so checkpoints keep loading when modules move. Importing this module registers them; the
models package imports it, and loading a checkpoint imports the models package.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "bigmodel"


@keras.saving.register_keras_serializable(package=PACKAGE)
class Destandardize(keras.layers.Layer):
    """outputs * std + mean: a standardized prediction back in the data's units.

    A regression head learns targets standardized with the training split's mean and std (a
    well-scaled problem whatever the targets' units); this layer, the model's last, holds those
    two numbers so that the saved model predicts in the data's units.
    """

    def __init__(self, mean: float = 0.0, std: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.mean = float(mean)
        self.std = float(std)

    def call(self, inputs):
        return inputs * ops.cast(self.std, inputs.dtype) + ops.cast(self.mean, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StandardizedMeanSquaredError(keras.losses.MeanSquaredError):
    """The mean squared error of standardized targets: MSE in data units divided by std².

    The gradient reaching the head is then that of training on standardized targets, whatever
    the optimizer; the loss reads as the share of the variance left unexplained (1.0 for
    predicting the training mean), while the metrics stay in the data's units.
    """

    def __init__(self, std: float = 1.0, reduction="sum_over_batch_size",
                 name="standardized_mean_squared_error", dtype=None):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.std = float(std)

    def call(self, y_true, y_pred):
        scale = ops.cast(self.std, y_pred.dtype)
        return super().call(ops.cast(y_true, y_pred.dtype) / scale, y_pred / scale)

    def get_config(self):
        return {**super().get_config(), "std": self.std}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedAccuracy(keras.metrics.SparseCategoricalAccuracy):
    """Accuracy of the predicted next token over real tokens only: padding targets count zero."""

    def __init__(self, padding_id: int = 0, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.padding_id = int(padding_id)

    def update_state(self, y_true, y_pred, sample_weight=None):
        real = ops.cast(ops.not_equal(y_true, self.padding_id), "float32")
        if sample_weight is not None:
            real = real * ops.cast(sample_weight, "float32")
        return super().update_state(y_true, y_pred, sample_weight=real)

    def get_config(self):
        return {**super().get_config(), "padding_id": self.padding_id}
