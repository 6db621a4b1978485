"""Exact scoring (core/evaluation.py)."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from slimvision.engines import evaluation


def test_known_predictions_give_known_scores():
  scores = evaluation.Scores(num_classes=6)
  # Class 0 is the top prediction for every example.
  logits = np.array([[6, 5, 4, 3, 2, 1]] * 4, np.float32)
  scores.update(logits[:3], [0, 1, 5])  # top-1, top-2, last.
  scores.update(logits[3:], [4])  # 5th.
  assert scores.count == 4
  assert scores.accuracy == pytest.approx(0.25)
  assert scores.recall_at_k == pytest.approx(0.75)  # 0, 1 and 4 in top 5.
  assert scores.confusion[5, 0] == 1 and scores.confusion.sum() == 4
  per_class = scores.per_class_accuracy()
  assert per_class[0] == 1.0 and per_class[1] == 0.0 and np.isnan(
      per_class[2])
  report = scores.report({0: 'zero', 1: 'one'})
  assert 'Scored 4 examples' in report and 'Accuracy: 0.2500' in report
  assert 'Recall_5: 0.7500' in report and 'zero' in report


def test_recall_k_is_capped_by_the_number_of_classes():
  scores = evaluation.Scores(num_classes=2)
  scores.update(np.array([[1.0, 0.0]]), [1])
  assert scores.k == 2 and scores.recall_at_k == 1.0 and scores.accuracy == 0


def test_summaries_are_written(tmp_path):
  scores = evaluation.Scores(num_classes=3)
  scores.update(np.eye(3), [0, 1, 1])
  evaluation.write_summaries(str(tmp_path), 7, scores, {0: 'a', 1: 'b'})
  tags = {}
  for path in tmp_path.glob('events.out.tfevents.*'):
    for event in tf.train.summary_iterator(str(path)):
      for value in event.summary.value:
        tags[value.tag] = (event.step, value)
  assert tags['eval/Accuracy'][1].simple_value == pytest.approx(2 / 3.)
  assert tags['eval/Accuracy'][0] == 7
  assert tags['eval/per_class_accuracy/b'][1].simple_value == 0.5
  assert tags['eval/confusion_matrix'][1].image.width == 72
