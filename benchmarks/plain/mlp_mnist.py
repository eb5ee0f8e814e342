"""The classic hand-written Keras MLP on MNIST-shaped data (28x28 pixels, flattened to 784).

What `bigmodel train benchmarks/configs/mlp.yaml` is measured against: numpy arrays into
`model.fit`, default settings, batch 32. The data is random but of MNIST's shapes and dtypes
(uint8 pixels scaled to [0, 1] as the classic script does), so no download is needed.
Usage: python benchmarks/plain/mlp_mnist.py [--examples N] [--epochs E]
"""

import argparse

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--examples", type=int, default=60_000)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

rng = np.random.default_rng(42)
x_train = rng.integers(0, 256, (args.examples, 28, 28), dtype=np.uint8)
y_train = rng.integers(0, 10, args.examples)
x_train = x_train.reshape(-1, 784).astype("float32") / 255

model = keras.Sequential([
    keras.Input(shape=(784,)),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=args.epochs)
