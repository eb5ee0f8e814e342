"""The numbers behind `evaluate`'s report, computed by scikit-learn from a split's labels and
predictions: per-class precision/recall/F1/support, averages, confusion matrices, top-k
accuracy, ROC and PR AUC, and the expected calibration error (which scikit-learn lacks)."""

from __future__ import annotations

import numpy as np

CALIBRATION_BINS = 15  # equal-width confidence bins, as in Guo et al. 2017
TOP_K = (3, 5)  # reported when the task has more classes than k


def per_class(y_true, predicted, class_names: list[str]) -> dict:
    """Per-class precision, recall, F1 and support, with the macro and weighted averages
    (one class per example, or multi-hot rows for several labels per example)."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = np.arange(len(class_names))
    multilabel = np.ndim(y_true) == 2
    per_label = precision_recall_fscore_support(
        y_true, predicted, labels=None if multilabel else labels, zero_division=0)
    rows = [{"class": name, "precision": float(precision), "recall": float(recall),
             "f1": float(f1), "support": int(support)}
            for name, precision, recall, f1, support in zip(class_names, *per_label, strict=True)]
    averages = {}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, predicted, labels=None if multilabel else labels, average=average,
            zero_division=0)
        averages[average] = {"precision": float(precision), "recall": float(recall),
                             "f1": float(f1), "support": int(np.sum(per_label[3]))}
    return {"classes": rows, "averages": averages}


def confusion(y_true, predicted, count: int) -> dict:
    """Rows are the true class, columns the predicted one; `normalized` divides each row by
    its total (the recall of each class on the diagonal; a class never seen is a row of 0)."""
    from sklearn.metrics import confusion_matrix

    labels = np.arange(count)
    counts = confusion_matrix(y_true, predicted, labels=labels)
    normalized = confusion_matrix(y_true, predicted, labels=labels, normalize="true")
    return {"counts": counts.tolist(), "normalized": np.nan_to_num(normalized).round(6).tolist()}


def top_k(y_true, probabilities: np.ndarray) -> dict:
    """top_3_accuracy, top_5_accuracy: whether the true class is among the k most probable."""
    from sklearn.metrics import top_k_accuracy_score

    count = probabilities.shape[-1]
    return {f"top_{k}_accuracy": float(top_k_accuracy_score(y_true, probabilities, k=k,
                                                             labels=np.arange(count)))
            for k in TOP_K if count > k}


def binary_areas(y_true, positive: np.ndarray) -> dict:
    """ROC AUC and PR AUC (average precision) of the positive class; empty when the split
    holds one class only (neither is defined then)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    truth = np.asarray(y_true).reshape(-1)
    if len(np.unique(truth)) < 2:
        return {}
    return {"roc_auc": float(roc_auc_score(truth, positive)),
            "pr_auc": float(average_precision_score(truth, positive))}


def calibration_error(y_true, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error: the gap between confidence (the top probability) and
    accuracy, averaged over equal-width confidence bins weighted by their examples."""
    truth = np.asarray(y_true).reshape(-1)
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == truth
    # Bin i holds confidences in (i/bins, (i+1)/bins]; a confidence of 0 goes to the first.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for bin_index in range(bins):
        members = index == bin_index
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)
