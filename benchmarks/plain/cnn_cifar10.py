"""The classic hand-written Keras CNN on CIFAR-10-shaped data (32x32x3 pixels).

Conv(32) -> MaxPool -> Conv(64) -> MaxPool -> Flatten -> Dense(128) -> softmax, Adam, batch 32:
what `bigmodel train benchmarks/configs/cnn.yaml` is measured against. Random uint8 pixels of
CIFAR-10's shapes, scaled to [0, 1] as the classic script does; no download.
Usage: python benchmarks/plain/cnn_cifar10.py [--examples N] [--epochs E]
"""

import argparse

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--examples", type=int, default=50_000)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

rng = np.random.default_rng(42)
x_train = rng.integers(0, 256, (args.examples, 32, 32, 3), dtype=np.uint8)
y_train = rng.integers(0, 10, args.examples)
x_train = x_train.astype("float32") / 255

model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    keras.layers.Conv2D(32, 3, activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Conv2D(64, 3, activation="relu"),
    keras.layers.MaxPooling2D(),
    keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=args.epochs)
