"""A plain Keras character GPT (nanoGPT's CPU shape) on a text file: the reference for
benchmarks/lm.py. keras-hub layers, numpy windows into `model.fit`, nothing else.

    python benchmarks/plain/gpt_pydoc.py CORPUS.txt OUT.json --steps-per-epoch 100 --epochs 6
"""

import argparse
import json

import keras
import keras_hub
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("corpus")
parser.add_argument("out")
parser.add_argument("--steps-per-epoch", type=int, default=100)
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--batch-size", type=int, default=12)
parser.add_argument("--context", type=int, default=64)
parser.add_argument("--eval-windows", type=int, default=800)
args = parser.parse_args()

text = open(args.corpus, encoding="utf-8").read()
characters = sorted(set(text))
ids = {character: index + 1 for index, character in enumerate(characters)}  # 0: padding
tokens = np.array([ids[character] for character in text], dtype=np.int32)
cut = int(len(tokens) * 0.9)
train, validation = tokens[:cut], tokens[cut:]
length, batch = args.context, args.batch_size
steps = args.steps_per_epoch * args.epochs
rng = np.random.default_rng(1337)
offsets = rng.integers(0, len(train) - length - 1, steps * batch)
windows = train[offsets[:, None] + np.arange(length + 1)]
starts = length * np.arange(min(args.eval_windows, (len(validation) - 1) // length))
held_out = validation[starts[:, None] + np.arange(length + 1)]

vocabulary = len(characters) + 1
inputs = keras.Input((length,), dtype="int32")
x = keras_hub.layers.TokenAndPositionEmbedding(vocabulary, length, 128)(inputs)
for _ in range(4):
    x = keras_hub.layers.TransformerDecoder(512, 4, normalize_first=True)(x)
x = keras.layers.LayerNormalization(epsilon=1e-5)(x)
model = keras.Model(inputs, keras.layers.Dense(vocabulary)(x))
schedule = keras.optimizers.schedules.CosineDecay(
    0.0, steps - 100, alpha=0.1, warmup_target=1e-3, warmup_steps=100)
optimizer = keras.optimizers.AdamW(schedule, weight_decay=0.1, beta_2=0.99, global_clipnorm=1.0)
model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(windows[:, :-1], windows[:, 1:], batch_size=batch, epochs=args.epochs,
          steps_per_epoch=args.steps_per_epoch, shuffle=False, verbose=0)
loss = model.evaluate(held_out[:, :-1], held_out[:, 1:], batch_size=batch, verbose=0)
json.dump({"val_loss": float(loss), "parameters": model.count_params()}, open(args.out, "w"))
