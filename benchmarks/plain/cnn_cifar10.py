"""The classic hand-written Keras CNN on CIFAR-10-shaped data (32x32x3 pixels).

Conv(32) -> MaxPool -> Conv(64) -> MaxPool -> Flatten -> Dense(128) -> softmax, Adam, batch 32:
what `bigmodel train benchmarks/configs/cnn.yaml` is measured against. It reads an .npz laid
out like CIFAR-10's arrays (x_train: uint8 (examples, 32, 32, 3), y_train); benchmarks/compare.py
writes one of random pixels. Usage: python benchmarks/plain/cnn_cifar10.py --data FILE [--epochs E]
"""

import argparse

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True, help="an .npz with x_train and y_train")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

# Read like keras.datasets reads its cached archive.
with np.load(args.data) as data:
    x_train, y_train = data["x_train"], data["y_train"]
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
