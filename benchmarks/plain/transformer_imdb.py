"""The classic hand-written Keras Transformer text classifier on IMDB-shaped data.

Token and position embeddings (32 wide), one encoder block (2 attention heads, feed-forward 32,
dropout 0.1, post-norm), mean pooling, sigmoid; Adam, batch 32. The layers are written out as
in the Keras "Text classification with Transformer" example, at the sizes of
`bigmodel train benchmarks/configs/transformer.yaml`. Random reviews of 128 to 256 word ids,
padded with `pad_sequences`; no download.
Usage: python benchmarks/plain/transformer_imdb.py [--examples N] [--epochs E]
"""

import argparse

import keras
import numpy as np
from keras import layers, ops

parser = argparse.ArgumentParser()
parser.add_argument("--examples", type=int, default=25_000)
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

VOCABULARY, LENGTH, WIDTH, HEADS, FEED_FORWARD = 10_000, 256, 32, 2, 32


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.token_embedding = layers.Embedding(VOCABULARY, WIDTH)
        self.position_embedding = layers.Embedding(LENGTH, WIDTH)

    def call(self, inputs):
        positions = ops.arange(ops.shape(inputs)[-1])
        return self.token_embedding(inputs) + self.position_embedding(positions)


class TransformerBlock(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.attention = layers.MultiHeadAttention(HEADS, key_dim=WIDTH // HEADS, dropout=0.1)
        self.feed_forward = keras.Sequential(
            [layers.Dense(FEED_FORWARD, activation="relu"), layers.Dense(WIDTH)])
        self.norm1 = layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(0.1)
        self.dropout2 = layers.Dropout(0.1)

    def call(self, inputs, training=None):
        attended = self.dropout1(self.attention(inputs, inputs, training=training),
                                 training=training)
        hidden = self.norm1(inputs + attended)
        transformed = self.dropout2(self.feed_forward(hidden), training=training)
        return self.norm2(hidden + transformed)


rng = np.random.default_rng(42)
lengths = rng.integers(128, 257, args.examples)
reviews = [rng.integers(1, VOCABULARY, length) for length in lengths]
x_train = keras.utils.pad_sequences(reviews, maxlen=LENGTH)
y_train = rng.integers(0, 2, args.examples)

inputs = keras.Input(shape=(LENGTH,))
features = TokenAndPositionEmbedding()(inputs)
features = TransformerBlock()(features)
features = layers.GlobalAveragePooling1D()(features)
outputs = layers.Dense(1, activation="sigmoid")(features)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=args.epochs)
