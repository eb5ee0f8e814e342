"""Per-example convolution filter gradients for `tf.vectorized_map`, without a loop.

TensorFlow's pfor converts `Conv2DBackpropFilter` with per-example inputs into a while_loop
over the examples ("Conv2DBackpropFilter uses a while_loop. Fix that!", a TODO in
tensorflow/python/ops/parallel_for/pfor.py), so DP-SGD's per-example gradients of a CNN ran
one example at a time. Measured with benchmarks/privacy.py (the private quickstart CNN, 2
shared CPU cores): DP-SGD's overhead over a plain step went from 2.6x (batch 32) and 11x
(batch 256) with that loop to 1.5x and 4.0x (wall time; 2.1x and 4.1x in CPU time).

The filter gradient of example n is a correlation of its input with its output gradient:
dW[n, i, j, c, o] = sum_h,w x[n, h + i, w + j, c] * g[n, h, w, o]: with the input's patches
laid out like the filter (tf.image.extract_patches), one batched matrix product,
einsum("nhwk,nhwo->nko"). Only the common case is taken over (NHWC, strides and dilations 1,
SAME or VALID, a filter size known when tracing, one example per iteration); everything else
goes to TensorFlow's own converter. Private API of TensorFlow,
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
            and inputs.shape.rank == 5 and inputs.shape[1] == 1
            and _static(pfor_input.unstacked_input(1)))


def _static(filter_sizes) -> bool:
    import tensorflow as tf

    return tf.get_static_value(filter_sizes) is not None


def _filter_gradients(x, gradients, filter_sizes, padding):
    """x [N, H, W, C] and output gradients [N, H', W', O] -> [N, kh, kw, C, O]."""
    import tensorflow as tf

    kh, kw = (int(size) for size in tf.get_static_value(filter_sizes)[:2])
    if padding in (b"SAME", "SAME"):  # the padding the forward convolution used
        x = tf.pad(x, [[0, 0], [(kh - 1) // 2, kh - 1 - (kh - 1) // 2],
                       [(kw - 1) // 2, kw - 1 - (kw - 1) // 2], [0, 0]])
    # Each output position's input patch, laid out (kh, kw, C) like the filter.
    patches = tf.image.extract_patches(x, [1, kh, kw, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    out = tf.einsum("nhwk,nhwo->nko", patches, gradients)  # one matmul per example, batched
    shape = tf.shape(out)
    return tf.reshape(out, tf.stack([shape[0], kh, kw, shape[1] // (kh * kw), shape[2]]))
