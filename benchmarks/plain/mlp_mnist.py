"""The classic hand-written Keras MLP on MNIST-shaped data (28x28 pixels, flattened to 784).

What `bigmodel train benchmarks/configs/mlp.yaml` is measured against: numpy arrays into
`model.fit`, default settings, batch 32. It reads an .npz laid out like keras' mnist.npz
(x_train: uint8 (examples, 28, 28), y_train); benchmarks/compare.py writes one of random pixels,
so no download is needed. Usage: python benchmarks/plain/mlp_mnist.py --data FILE [--epochs E]
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
x_train = x_train.reshape(-1, 784).astype("float32") / 255

model = keras.Sequential([
    keras.Input(shape=(784,)),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=args.epochs)
