"""The TensorFlow runtime: a quiet import, devices and strategies, precision, Keras fixes."""
