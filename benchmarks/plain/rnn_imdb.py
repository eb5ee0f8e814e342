"""The classic hand-written Keras LSTM on IMDB-shaped data (word ids, padded to 256).

Embedding(10,000 words, 32) -> LSTM(64) -> sigmoid, Adam, batch 32: what
`bigmodel train benchmarks/configs/rnn.yaml` is measured against. Random reviews of 128 to 256
word ids, padded with `pad_sequences` as the classic script does; no download.
Usage: python benchmarks/plain/rnn_imdb.py [--examples N] [--epochs E]
"""

import argparse

import keras
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--examples", type=int, default=25_000)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

rng = np.random.default_rng(42)
lengths = rng.integers(128, 257, args.examples)
reviews = [rng.integers(1, 10_000, length) for length in lengths]
x_train = keras.utils.pad_sequences(reviews, maxlen=256)
y_train = rng.integers(0, 2, args.examples)

model = keras.Sequential([
    keras.Input(shape=(256,)),
    keras.layers.Embedding(10_000, 32),
    keras.layers.LSTM(64),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=args.epochs)
