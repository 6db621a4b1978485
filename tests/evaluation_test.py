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
  # Class b: predicted once, rightly (precision 1), recall 0.5, F1 2/3;
  # class 2 (no name) was predicted once and never right.
  assert tags['eval/precision/b'][1].simple_value == 1.0
  assert tags['eval/f1/b'][1].simple_value == pytest.approx(2 / 3.)
  assert tags['eval/precision/2'][1].simple_value == 0.0
  table = tags['eval/per_class'][1]
  assert table.metadata.plugin_data.plugin_name == 'text'
  text = tf.make_ndarray(table.tensor).item().decode('utf-8')
  assert '| b | 2 | 1.0000 | 0.5000 | 0.6667 |' in text
  image = tags['eval/confusion_matrix'][1].image
  assert image.colorspace == 3 and image.width > 100


def test_the_confusion_image_shows_names_and_counts():
  from PIL import Image
  import io
  confusion = np.array([[5, 1], [0, 9]])
  png, size = evaluation.confusion_image(confusion, ['cat', 'dog'])
  image = np.asarray(Image.open(io.BytesIO(png)).convert('L'))
  assert image.shape == (size[1], size[0])
  # A cell with all of its row (9 of 9) is dark; an empty one is white
  # around its '0'; the label column holds dark text pixels.
  blank, _ = evaluation.confusion_image(np.zeros((2, 2), int), ['cat', 'dog'])
  assert png != blank
  assert image.min() < 60 and (image == 255).mean() > 0.4


def test_precision_recall_and_f1_per_class():
  scores = evaluation.Scores(num_classes=3)
  # True 0,0,1,1,2; predicted 0,1,1,1,0.
  scores.update(np.eye(3)[[0, 1, 1, 1, 0]], [0, 0, 1, 1, 2])
  # Class two is never predicted: its precision (and F1) is undefined.
  np.testing.assert_allclose(scores.per_class_precision(),
                             [0.5, 2 / 3., np.nan])
  np.testing.assert_allclose(scores.per_class_accuracy(), [0.5, 1.0, 0.0])
  np.testing.assert_allclose(scores.per_class_f1(), [0.5, 0.8, np.nan])
  report = scores.report({0: 'zero', 1: 'one', 2: 'two'})
  assert '  one       0.6667            1.0000  0.8000  (2 examples)' in report


def test_one_class_predictions_get_the_stale_statistics_warning():
  from slimvision.engines import evaluation as evaluation_lib
  scores = evaluation_lib.Scores(3)
  labels = np.array([0, 1, 2] * 10)
  one_class = np.tile([0.0, 0.0, 5.0], (30, 1))
  scores.update(one_class, labels)
  warning = evaluation_lib.one_class_warning(scores, {2: 'water'})
  assert warning.startswith("Warning: 30 of 30 examples (100%) were "
                            "predicted as 'water'")
  assert '--batch_norm_decay' in warning
  assert '--moving_average_decay' in warning
  # Spread predictions, or a split that is all one class: no warning.
  spread = evaluation_lib.Scores(3)
  spread.update(np.eye(3)[labels] * 5.0, labels)
  assert evaluation_lib.one_class_warning(spread) is None
  uniform = evaluation_lib.Scores(3)
  uniform.update(one_class, np.full(30, 2))
  assert evaluation_lib.one_class_warning(uniform) is None
  # A network without batch norm (LeNet, CifarNet, VGG) has no moving
  # statistics to blame.
  plain = evaluation_lib.one_class_warning(scores, {2: 'water'},
                                           batch_norm=False)
  assert plain.startswith("Warning: 30 of 30 examples (100%) were "
                          "predicted as 'water'. The model does not tell")
  assert 'batch_norm_decay' not in plain and '--learning_rate' in plain


def test_batch_norm_is_found_by_its_moving_statistics():
  from slimvision.engines import evaluation as evaluation_lib
  def graph(names):
    return evaluation_lib._EvalGraph(None, None, None, None, names, None)
  bn = 'MobilenetV1/Conv2d_0/BatchNorm/moving_mean'
  assert evaluation_lib._has_moving_statistics(graph({bn: None}))
  # Restored from the moving averages' shadows.
  assert evaluation_lib._has_moving_statistics(
      graph({bn + '/ExponentialMovingAverage': None}))
  assert not evaluation_lib._has_moving_statistics(
      graph({'CifarNet/conv1/weights': None, 'global_step': None}))
  assert evaluation_lib._has_moving_statistics(graph(None))  # A .tflite.
