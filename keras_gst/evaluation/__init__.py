"""Evaluation: single/multi-view scores, top-k, mean class accuracy, confusion matrix, per-class
report, EPIC-KITCHENS verb/noun/action."""

from keras_gst.evaluation.evaluate import evaluate, format_report, predict_scores
from keras_gst.evaluation.metrics import (
    classification_metrics,
    confusion_matrix,
    epic_action_metrics,
    mean_class_accuracy,
    per_class_report,
    plot_confusion,
    top_k_accuracy,
    write_confusion_csv,
    write_report_csv,
)
