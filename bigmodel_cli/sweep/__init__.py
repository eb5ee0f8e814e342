"""Hyperparameter sweeps: a sweep file (spec.py) run as an Optuna study (study.py), each
trial an ordinary run directory, the study in SQLite so that a killed sweep resumes."""
