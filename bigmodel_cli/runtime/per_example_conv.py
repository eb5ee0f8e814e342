"""Per-example convolution filter gradients for `tf.vectorized_map`, without a loop.

TensorFlow's pfor converts `Conv2DBackpropFilter` with per-example inputs into a while_loop
over the examples ("Conv2DBackpropFilter uses a while_loop. Fix that!", a TODO in
tensorflow/python/ops/parallel_for/pfor.py), so DP-SGD's per-example gradients of a CNN ran
one example at a time. Measured on the private quickstart CNN (2 shared CPU cores): batch 32,
42 -> 112-131 DP steps/s; batch 256, 5.3 -> 7.8-15.6.

The filter gradient of example n is a correlation of its input with its output gradient:
dW[n, i, j, c, o] = sum_h,w x[n, h + i, w + j, c] * g[n, h, w, o]. Taking the input channels
as the batch and the examples as channels, that is one depthwise convolution whose filters
are the output gradients: depthwise_conv2d(x as [C, H, W, N], g as [H', W', N, O]). Only the
common case is taken over (NHWC, strides and dilations 1, SAME or VALID, one example per
iteration); everything else goes to TensorFlow's own converter. Private API of TensorFlow,
hence one small module, applied only by private training, checked against TensorFlow's own
result in tests/test_privacy.py.
"""

from __future__ import annotations

OP = "Conv2DBackpropFilter"
_installed: dict = {}


def install() -> None:
    """Put the depthwise converter in front of TensorFlow's (once per process)."""
    if _installed:
        return
    from tensorflow.python.ops.parallel_for import pfor

    original = pfor._pfor_converter_registry[OP]
    _installed["original"] = original

    def converter(pfor_input):
        pfor_input.stack_inputs(stack_indices=[2])
        inputs, stacked, _ = pfor_input.input(0)
        if not (stacked and _common_case(pfor_input, inputs)):
            return original(pfor_input)
        return pfor.wrap(_filter_gradients(inputs[:, 0], pfor_input.stacked_input(2)[:, 0],
                                           pfor_input.unstacked_input(1),
                                           pfor_input.get_attr("padding")), True)

    pfor._pfor_converter_registry[OP] = converter


def uninstall() -> None:
    """TensorFlow's own converter back (for tests that compare the two)."""
    if _installed:
        from tensorflow.python.ops.parallel_for import pfor

        pfor._pfor_converter_registry[OP] = _installed.pop("original")


def _common_case(pfor_input, inputs) -> bool:
    ones = [1, 1, 1, 1]
    return (pfor_input.get_attr("data_format") in (b"NHWC", "NHWC")
            and pfor_input.get_attr("padding") in (b"SAME", b"VALID", "SAME", "VALID")
            and list(pfor_input.get_attr("strides")) == ones
            and list(pfor_input.get_attr("dilations")) == ones
            and inputs.shape.rank == 5 and inputs.shape[1] == 1)


def _filter_gradients(x, gradients, filter_sizes, padding):
    """x [N, H, W, C] and output gradients [N, H', W', O] -> [N, kh, kw, C, O]."""
    import tensorflow as tf

    if padding in (b"SAME", "SAME"):  # the padding the forward convolution used
        height, width = filter_sizes[0] - 1, filter_sizes[1] - 1
        x = tf.pad(x, [[0, 0], [height // 2, height - height // 2],
                       [width // 2, width - width // 2], [0, 0]])
    examples_as_channels = tf.transpose(x, [3, 1, 2, 0])  # [C, H, W, N]
    filters = tf.transpose(gradients, [1, 2, 0, 3])  # [H', W', N, O]
    out = tf.nn.depthwise_conv2d(examples_as_channels, filters, [1, 1, 1, 1], "VALID")
    shape = tf.shape(out)  # [C, kh, kw, N * O]
    out = tf.reshape(out, tf.stack([shape[0], shape[1], shape[2], tf.shape(filters)[2],
                                    tf.shape(filters)[3]]))
    return tf.transpose(out, [3, 1, 2, 0, 4])
