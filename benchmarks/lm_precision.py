"""The gpt's training speed in float32 and mixed_bfloat16, with XLA and without, on this CPU.

    python benchmarks/lm_precision.py small 64 12 4 40   # size, context, batch, rounds, steps
    python benchmarks/lm_precision.py base 128 8 3 8

All four models live in one process and are timed in turn, the order reversed every other
round, on random tokens (speed only; README "Language models" has the validation losses of
real runs): a shared machine's load then weighs on all four alike. tokens/CPU-s is steadier
than tokens/s under load. This decided training.mixed_precision: auto on a CPU
(bigmodel_cli/runtime/precision.py).
"""

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bigmodel_cli.config.schema import GptConfig  # noqa: E402
from bigmodel_cli.data.spec import TOKENS  # noqa: E402
from bigmodel_cli.runtime.tfenv import import_tensorflow  # noqa: E402

import_tensorflow(False)
import keras  # noqa: E402

from bigmodel_cli.models import gpt  # noqa: E402

size, length, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rounds, steps = int(sys.argv[4]), int(sys.argv[5])
vocab = 105
spec = SimpleNamespace(kind=TOKENS, tokenizer={"kind": "char"}, shape=(length,), vocab_size=vocab)
rng = np.random.default_rng(0)
x = rng.integers(1, vocab, (batch * steps, length)).astype(np.int32)
y = rng.integers(1, vocab, (batch * steps, length)).astype(np.int32)

def make(policy, jit):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(1)
    inputs = keras.Input((length,), dtype="int32")
    config = GptConfig(family="gpt", size=size, tie_embeddings=False)
    model = keras.Model(inputs, gpt.build(inputs, spec, config))
    keras.config.set_dtype_policy("float32")
    optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.1, beta_2=0.99, global_clipnorm=1.0)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit, steps_per_execution=steps // 4)
    model.fit(x[:batch * steps // 4], y[:batch * steps // 4], batch_size=batch, verbose=0)  # trace
    return model

settings = [(p, j) for j in (True, False) for p in ("float32", "mixed_bfloat16")]
models = {s: make(*s) for s in settings}
results = {s: [] for s in settings}
for r in range(rounds):
    for s in (settings if r % 2 == 0 else settings[::-1]):
        wall, cpu = time.perf_counter(), time.process_time()
        models[s].fit(x, y, batch_size=batch, verbose=0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results[s].append((batch * steps * length / wall, batch * steps * length / cpu))
print(f"gpt {size}, context {length}, batch {batch}, {rounds} rounds x {steps} steps; "
      f"load {os.getloadavg()}")
for s, rows in results.items():
    tok, cpu = sorted(w for w, _ in rows), sorted(c for _, c in rows)
    print(f"{s[0]:15s} xla={str(s[1]):5s} tok/s median {np.median(tok):8.0f} "
          f"(min {tok[0]:.0f} max {tok[-1]:.0f})  tok/CPU-s median {np.median(cpu):8.0f}")
