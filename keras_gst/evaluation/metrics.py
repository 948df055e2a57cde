"""Classification metrics from scores: top-k, mean class accuracy, confusion matrix, per-class report,
EPIC-KITCHENS verb / noun / action accuracy. NumPy only; files via `write_*`."""

import csv
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike


def top_k_accuracy(scores: ArrayLike, labels: ArrayLike, k: int = 1) -> float:
    """Share of samples whose label is among the `k` highest scores (k is capped at the class count) of
    (N, C) `scores`; NaN for no samples.

    Example:

    ```python
    from keras_gst.evaluation import top_k_accuracy

    scores = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]  # 2 clips, 3 classes
    print(top_k_accuracy(scores, [2, 0], k=1), top_k_accuracy(scores, [2, 0], k=2))  # 0.5 1.0
    ```
    """
    scores, labels = np.asarray(scores), np.asarray(labels)
    k = min(int(k), scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1))) if len(labels) else float("nan")


def confusion_matrix(labels: ArrayLike, predictions: ArrayLike, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts, rows = true class, columns = predicted class.

    Example:

    ```python
    from keras_gst.evaluation import confusion_matrix

    print(confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], num_classes=3).tolist())  # [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    ```
    """
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(labels, np.int64), np.asarray(predictions, np.int64)), 1)
    return matrix


def mean_class_accuracy(matrix: np.ndarray) -> float:
    """Mean over the classes present (row sum > 0) of per-class recall (the authors' "class accuracy").

    Example:

    ```python
    import numpy as np

    from keras_gst.evaluation import mean_class_accuracy

    matrix = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])  # class 0: 3 of 4 right, class 1: 2 of 2, class 2: none
    print(mean_class_accuracy(matrix))  # 0.875
    ```
    """
    support = matrix.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(matrix)[present] / support[present])) if present.any() else float("nan")


def per_class_report(matrix: np.ndarray, class_names: Sequence[str] | None = None) -> list[dict]:
    """[{class, name, support, correct, recall, precision}] for each class (NaN where undefined).

    Example:

    ```python
    import numpy as np

    from keras_gst.evaluation import per_class_report

    rows = per_class_report(np.array([[3, 1], [0, 2]]), ["jump", "run"])
    print(rows[1]["name"], rows[1]["support"], rows[1]["recall"], round(rows[1]["precision"], 3))  # run 2 1.0 0.667
    ```
    """
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    rows = []
    for i in range(matrix.shape[0]):
        correct = int(matrix[i, i])
        rows.append({
            "class": i,
            "name": class_names[i] if class_names is not None and i < len(class_names) else str(i),
            "support": int(support[i]),
            "correct": correct,
            "recall": correct / support[i] if support[i] else float("nan"),
            "precision": correct / predicted[i] if predicted[i] else float("nan"),
        })
    return rows


def classification_metrics(scores: ArrayLike, labels: ArrayLike, num_classes: int | None = None) -> dict:
    """{"top1", "top5", "mean_class_accuracy", "num_samples", "confusion"} of (N, C) scores.

    Example:

    ```python
    from keras_gst.evaluation import classification_metrics

    result = classification_metrics([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]], [2, 0])
    print(result["top1"], result["top5"], result["mean_class_accuracy"], result["num_samples"])  # 0.5 1.0 0.5 2
    ```
    """
    scores, labels = np.asarray(scores), np.asarray(labels, np.int64)
    num_classes = num_classes or scores.shape[1]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):  # -1 (unlabeled) would count as the last class
        raise ValueError(f"labels must be in [0, {num_classes}), got {labels.min()}..{labels.max()}: leave unlabeled "
                         "clips (-1) out of an evaluation")
    predictions = np.argmax(scores, axis=1)
    matrix = confusion_matrix(labels, predictions, num_classes)
    return {
        "top1": top_k_accuracy(scores, labels, 1),
        "top5": top_k_accuracy(scores, labels, 5),
        "mean_class_accuracy": mean_class_accuracy(matrix),
        "num_samples": int(len(labels)),
        "confusion": matrix,
    }


def epic_action_metrics(verb_scores: ArrayLike, noun_scores: ArrayLike, verb_labels: ArrayLike,
                        noun_labels: ArrayLike) -> dict:
    """EPIC-KITCHENS: verb, noun and action (both right) top-1/top-5.

    Action top-5 ranks (verb, noun) pairs by verb probability x noun probability (softmax of each
    score set), as the EPIC evaluation does.

    Example:

    ```python
    from keras_gst.evaluation import epic_action_metrics

    verb_scores = [[2.0, 1.0], [0.0, 3.0]]  # 2 clips, 2 verbs
    noun_scores = [[0.0, 1.0, 5.0], [4.0, 0.0, 0.0]]  # 3 nouns
    result = epic_action_metrics(verb_scores, noun_scores, verb_labels=[0, 1], noun_labels=[2, 1])
    print(result["verb_top1"], result["noun_top1"], result["action_top1"])  # 1.0 0.5 0.5
    ```
    """
    verb_scores, noun_scores = np.asarray(verb_scores, np.float64), np.asarray(noun_scores, np.float64)
    verb_labels, noun_labels = np.asarray(verb_labels), np.asarray(noun_labels)

    def softmax(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    pv, pn = softmax(verb_scores), softmax(noun_scores)
    num_nouns = pn.shape[1]
    joint = (pv[:, :, None] * pn[:, None, :]).reshape(len(pv), -1)
    action_labels = verb_labels * num_nouns + noun_labels
    return {
        "verb_top1": top_k_accuracy(verb_scores, verb_labels, 1),
        "verb_top5": top_k_accuracy(verb_scores, verb_labels, 5),
        "noun_top1": top_k_accuracy(noun_scores, noun_labels, 1),
        "noun_top5": top_k_accuracy(noun_scores, noun_labels, 5),
        "action_top1": top_k_accuracy(joint, action_labels, 1),
        "action_top5": top_k_accuracy(joint, action_labels, 5),
        "num_samples": int(len(verb_labels)),
    }


def write_confusion_csv(matrix: np.ndarray, path: str | os.PathLike,
                        class_names: Sequence[str] | None = None) -> None:
    """Write the confusion `matrix` as CSV: a header of predicted class names, then one row per true class.

    Example:

    ```python
    import numpy as np

    from keras_gst.evaluation import write_confusion_csv

    write_confusion_csv(np.array([[3, 1], [0, 2]]), "confusion.csv", ["jump", "run"])
    print(open("confusion.csv").read().splitlines()[1])  # jump,3,1
    ```
    """
    names = [class_names[i] if class_names is not None and i < len(class_names) else str(i) for i in range(len(matrix))]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted"] + names)
        for name, row in zip(names, matrix):
            w.writerow([name] + [int(v) for v in row])


def write_report_csv(rows: Sequence[dict], path: str | os.PathLike) -> None:
    """Write `per_class_report` rows as CSV (class, name, support, correct, recall, precision).

    Example:

    ```python
    import numpy as np

    from keras_gst.evaluation import per_class_report, write_report_csv

    write_report_csv(per_class_report(np.array([[3, 1], [0, 2]]), ["jump", "run"]), "per_class.csv")
    print(open("per_class.csv").read().splitlines()[1])  # 0,jump,4,3,0.75,1.0
    ```
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["class", "name", "support", "correct", "recall", "precision"])
        w.writeheader()
        w.writerows(rows)


def plot_confusion(matrix: np.ndarray, path: str | os.PathLike, class_names: Sequence[str] | None = None,
                   normalize: bool = True, title: str | None = None) -> None:
    """Confusion matrix PNG (rows normalised to recall by default; counts annotated for <= 30 classes).

    Example:

    ```python
    import os

    import numpy as np

    from keras_gst.evaluation import plot_confusion

    plot_confusion(np.array([[3, 1], [0, 2]]), "plots/confusion.png", ["jump", "run"], title="validation")
    print(os.path.isfile("plots/confusion.png"))  # True
    ```
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(matrix)
    values = matrix.astype(np.float64)
    if normalize:
        values = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    size = min(4 + 0.35 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, label="recall" if normalize else "count")
    if n <= 30:
        names = [class_names[i] if class_names is not None and i < len(class_names) else str(i) for i in range(n)]
        ax.set_xticks(range(n), names, rotation=90, fontsize=7)
        ax.set_yticks(range(n), names, fontsize=7)
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if values[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
