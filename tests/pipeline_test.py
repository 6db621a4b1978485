"""The tf.data input pipeline over a slim Dataset."""

import os
import re

import numpy as np
from PIL import Image
import pytest
import tensorflow.compat.v1 as tf

from conftest import error_line, run_cli
import dataset_records
from dataset_records import record_file
from slimvision.core import errors
from slimvision.engines import pipeline
from slimvision.datasets import dataset_factory
from slimvision.datasets import image_folder


def _batches(dataset, is_training, batch_size, count=None, **kwargs):
  with tf.Graph().as_default():
    batches = pipeline.build_dataset(
        dataset, lambda image: tf.image.resize(image, [8, 8]), batch_size,
        is_training, seed=0, **kwargs)
    images, labels = tf.data.make_one_shot_iterator(batches).get_next()
    out = []
    with tf.Session() as sess:
      while count is None or len(out) < count:
        try:
          out.append(sess.run([images, labels]))
        except tf.errors.OutOfRangeError:
          break
  return out


def test_eval_reads_every_example_once_with_the_partial_batch(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  batches = _batches(dataset, is_training=False, batch_size=5)
  assert [len(labels) for _, labels in batches] == [5, 5, 2]
  labels = np.concatenate([labels for _, labels in batches])
  np.testing.assert_array_equal(np.bincount(labels), [2] * 6)
  assert batches[0][0].shape == (5, 8, 8, 3)


def test_training_repeats_shuffles_and_drops_the_remainder(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'train', shapes_dir)
  batches = _batches(dataset, is_training=True, batch_size=7, count=20)
  assert all(len(labels) == 7 for _, labels in batches)
  labels = np.concatenate([labels for _, labels in batches])
  assert set(labels) == set(range(6))
  first_pass = labels[:48]
  assert not np.all(np.diff(first_pass) >= 0)  # Shuffled, not class order.


def test_the_input_runs_in_its_own_pool_of_input_threads(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  with tf.Graph().as_default():
    shared = pipeline.build_dataset(dataset, tf.identity, 4, False)
    own = pipeline.build_dataset(dataset, tf.identity, 4, False,
                                 input_threads=2)
    assert shared.options().threading.private_threadpool_size is None
    assert own.options().threading.private_threadpool_size == 2
  batches = _batches(dataset, is_training=False, batch_size=5,
                     input_threads=1)
  assert [len(labels) for _, labels in batches] == [5, 5, 2]


@pytest.mark.parametrize('before', [0, 3])
def test_markers_since_a_usable_record_are_counted_a_batch_at_a_time(before):
  rng = np.random.RandomState(before)
  # Records (kept or not) and file-end markers, as the pipeline sees them.
  kinds = rng.choice(['keep', 'marker', 'dropped'], size=40, p=[.3, .3, .4])
  keep, is_marker = kinds == 'keep', kinds == 'marker'
  expected, count = [], before
  for kept, marker in zip(keep, is_marker):
    count = 0 if kept else count + int(marker)
    expected.append(count)
  with tf.Graph().as_default(), tf.Session() as session:
    counts = session.run(pipeline._markers_since_used(  # pylint: disable=protected-access
        tf.constant(before, tf.int64), tf.constant(keep),
        tf.constant(is_marker)))
  np.testing.assert_array_equal(counts, expected)


def test_labels_offset_is_subtracted(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  plain = np.concatenate([l for _, l in _batches(dataset, False, 12)])
  with pytest.raises(tf.errors.InvalidArgumentError, match='negative label'):
    _batches(dataset, False, 12, labels_offset=1)
  assert plain.min() == 0


def test_a_label_out_of_range_is_a_clear_error(tmp_path):
  for name in ('a', 'b'):
    os.makedirs(tmp_path / 'src' / name)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(
        tmp_path / 'src' / name / '0.png')
  image_folder.convert('x', str(tmp_path / 'src'), str(tmp_path / 'out'),
                       validation_fraction=0, log=lambda *_: None)
  dataset = dataset_factory.get_dataset('x', 'train', str(tmp_path / 'out'))
  dataset.num_classes = 1  # As if labels.txt listed one class only.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'label out of range \[0, 1\)'):
    _batches(dataset, False, 2)


def test_an_offset_that_leaves_no_class_is_a_user_error():
  assert pipeline.classes_after_offset('imagenet', 1001, 1) == 1000
  with pytest.raises(ValueError) as raised:
    pipeline.classes_after_offset('shapes', 6, 6)
  assert str(raised.value) == (
      '--labels_offset=6 leaves no classes: shapes has 6 (labels 0-5); use 0 '
      'to 5 (1 drops the background class of a TF-Slim ImageNet)')


def test_missing_files_are_a_user_error(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  dataset.data_sources = os.path.join(shapes_dir, 'nothing_*.tfrecord')
  with pytest.raises(ValueError, match='No record files match'):
    pipeline.list_files(dataset)


# ----------------------------------------------------------------------------
# Bad records: named in the error, or skipped with a warning naming them.

UNDECODABLE = 'the record cannot be parsed or its image decoded'


@pytest.fixture(scope='module')
def corrupt(shapes_dir, tmp_path_factory):
  """Copies of the shapes set, each with one kind of damage in its
  validation split, and one with all three; with the error line each
  should give."""
  root = tmp_path_factory.mktemp('corrupt')
  sets = {}
  for name in ('truncated', 'bad_image', 'bad_label', 'all'):
    sets[name] = dataset_records.copy_dataset(shapes_dir, str(root / name))
  lines = {}
  for name in ('truncated', 'all'):
    start, size = dataset_records.truncate_in_record(
        record_file(sets[name], 'validation', 0), 3)
    lines[name] = (
        'corrupt or truncated record file: %s record 3: truncated or corrupt'
        ' at byte %d of %d; the rest of the file cannot be read' % (
            record_file(sets[name], 'validation', 0), start, size))
  for name in ('bad_image', 'all'):
    dataset_records.edit_record(record_file(sets[name], 'validation', 1), 2,
                                dataset_records.garbage_jpeg)
  lines['bad_image'] = 'invalid data: %s record 2: %s' % (
      record_file(sets['bad_image'], 'validation', 1), UNDECODABLE)
  for name in ('bad_label', 'all'):
    dataset_records.edit_record(record_file(sets[name], 'validation', 1), 4,
                                dataset_records.label(9))
  lines['bad_label'] = 'invalid data: %s record 4: label out of range [0, ' \
      '6): 9' % record_file(sets['bad_label'], 'validation', 1)
  return sets, lines


def _first_error(dataset, **kwargs):
  """describe_tf_error() of the error reading `dataset` gives."""
  with pytest.raises(tf.errors.OpError) as raised:
    _batches(dataset, False, 5, **kwargs)
  return errors.describe_tf_error(raised.value)


@pytest.mark.parametrize('damage', ['truncated', 'bad_image', 'bad_label'])
def test_the_error_names_the_file_record_and_problem(corrupt, damage):
  sets, lines = corrupt
  dataset = dataset_factory.get_dataset('shapes', 'validation', sets[damage])
  assert _first_error(dataset) == lines[damage]


def test_a_negative_label_after_the_offset_is_named_with_it(shapes_dir):
  dataset = dataset_factory.get_dataset('shapes', 'validation', shapes_dir)
  message = _first_error(dataset, labels_offset=1)
  match = re.fullmatch(r'invalid data: (.+) record (\d+): negative label -1 '
                       r'\(stored 0, --labels_offset=1\)', message)
  assert match, message
  # The record named is one with label 0.
  example = dataset_records.parse_examples([match.group(1)])[
      int(match.group(2))]
  assert dataset_records.int_values(example, 'image/class/label') == [0]


def test_skipping_names_each_bad_record_once_while_training(corrupt):
  sets, _ = corrupt
  dataset = dataset_factory.get_dataset('shapes', 'validation', sets['all'])
  skipped = pipeline.SkippedRecords(warn=False)
  with tf.Graph().as_default():
    # Unseeded, as training runs by default: in order all the same.
    batches = pipeline.build_dataset(
        dataset, lambda image: tf.image.resize(image, [8, 8]), 4, True,
        skipped=skipped)
    labels = tf.data.make_one_shot_iterator(batches).get_next()[1]
    with tf.Session() as sess:
      seen = np.concatenate([sess.run(labels) for _ in range(30)])
  assert len(seen) == 120 and seen.max() < 6  # Label 9 never comes.
  validation = lambda shard: record_file(sets['all'], 'validation', shard)
  assert set(skipped.records) == {(validation(0), 3), (validation(1), 2),
                                  (validation(1), 4)}
  assert skipped.records[validation(1), 2] == UNDECODABLE
  assert skipped.records[validation(1), 4] == 'label out of range [0, 6): 9'
  assert skipped.records[validation(0), 3].startswith(
      'truncated or corrupt at byte ')
  assert skipped.unnamed == 0 and skipped.count == 3


def _damage_every_record(shapes_dir, folder, edit):
  """A copy of shapes whose every validation record is edited by `edit`."""
  folder = dataset_records.copy_dataset(shapes_dir, folder)
  for shard in (0, 1):
    path = record_file(folder, 'validation', shard)
    for index in range(len(dataset_records.record_offsets(path))):
      dataset_records.edit_record(path, index, edit)
  return dataset_factory.get_dataset('shapes', 'validation', folder)


def _first_training_error(dataset, skipped=None):
  with pytest.raises(tf.errors.OpError) as raised:
    _batches(dataset, True, 4, count=1, skipped=skipped)
  return errors.describe_tf_error(raised.value)


def test_training_on_no_usable_record_fails_instead_of_waiting(
    shapes_dir, tmp_path):
  # Training repeats the files forever: with every record skipped it used to
  # wait for its first batch for ever.
  dataset = _damage_every_record(shapes_dir, str(tmp_path),
                                 dataset_records.label(9))
  skipped = pipeline.SkippedRecords(warn=False)
  assert _first_training_error(dataset, skipped) == (
      'no usable records: 30 passes over the 2 record file(s) matching %s '
      'gave no record to use: every record was skipped (see the warnings '
      'above) or the files hold none; fix or convert the data again' %
      os.path.join(str(tmp_path), 'shapes_validation_*.tfrecord'))
  assert skipped.count == 12  # Each record noted once, however often read.


def test_training_names_an_undecodable_record_even_when_none_decodes(
    shapes_dir, tmp_path):
  # Nothing decodes, so no record follows to name the failures: the marker
  # at the end of each file does.
  dataset = _damage_every_record(shapes_dir, str(tmp_path),
                                 dataset_records.garbage_jpeg)
  assert re.fullmatch(
      r'invalid data: .*shapes_validation_0000[01]-of-00002\.tfrecord '
      r'record \d+: ' + UNDECODABLE, _first_training_error(dataset))


def test_the_error_names_a_file_whose_path_has_quotes_and_backslashes(
    shapes_dir, tmp_path):
  # The message crosses TensorFlow's error text, which escapes some of
  # these; the user sees the path as it is.
  folder = str(tmp_path / 'a "quoted" \\ b\\n \u00e9t\u00e9')
  dataset = _damage_every_record(shapes_dir, folder, dataset_records.label(9))
  shard = re.escape(os.path.join(folder, 'shapes_validation_')) + (
      r'0000[01]-of-00002\.tfrecord')
  assert re.fullmatch(
      r'invalid data: %s record \d+: label out of range \[0, 6\): 9' %
      shard, _first_training_error(dataset))


def test_record_files_that_are_all_empty_are_a_user_error(shapes_dir,
                                                           tmp_path):
  folder = dataset_records.copy_dataset(shapes_dir, str(tmp_path))
  for shard in (0, 1):
    open(record_file(folder, 'validation', shard), 'wb').close()
  dataset = dataset_factory.get_dataset('shapes', 'validation', folder)
  with pytest.raises(ValueError, match=r'the 2 record file\(s\) matching .*'
                     r'shapes_validation_\*\.tfrecord are all empty \(0 '
                     r'bytes\)'):
    _batches(dataset, True, 4, count=1)


@pytest.mark.parametrize('bad, named', [(range(14, 17), 6),
                                        (range(10, 15), 8)])
def test_undecodable_records_in_a_row_are_named_as_far_as_remembered(
    shapes_dir, tmp_path, bad, named):
  # Evaluation alternates between the two shards: records 14..16 of both
  # are 6 in a row (across a numbering batch of 32); 10..14, 10 in a row.
  folder = dataset_records.copy_dataset(shapes_dir, str(tmp_path))
  for shard in (0, 1):
    for index in bad:
      dataset_records.edit_record(record_file(folder, 'train', shard), index,
                                  dataset_records.garbage_jpeg)
  dataset = dataset_factory.get_dataset('shapes', 'train', folder)
  skipped = pipeline.SkippedRecords(warn=False)
  labels = np.concatenate([l for _, l in _batches(
      dataset, False, 5, skipped=skipped)])
  assert len(labels) == 48 - 2 * len(bad)
  assert skipped.count == 2 * len(bad)
  assert len(skipped.records) == named
  assert skipped.unnamed == 2 * len(bad) - named
  # Those named are the last ones, just before the good record after them.
  assert set(skipped.records) == {(record_file(folder, 'train', s), i)
                                  for s in (0, 1) for i in bad[-named // 2:]}


def _train(folder, train_dir, *args):
  return run_cli('train_image_classifier.py', '--dataset_name=shapes',
                 '--dataset_split_name=validation', '--dataset_dir=' + folder,
                 '--model_name=cifarnet', '--train_dir=' + train_dir,
                 '--max_number_of_steps=50', '--batch_size=4',
                 '--log_every_n_steps=50', *args)


def _eval(folder, checkpoint_path, eval_dir, *args):
  return run_cli('eval_image_classifier.py', '--dataset_name=shapes',
                 '--dataset_split_name=validation', '--dataset_dir=' + folder,
                 '--model_name=cifarnet', '--checkpoint_path=' +
                 checkpoint_path, '--eval_dir=' + eval_dir, '--batch_size=5',
                 *args)


@pytest.mark.parametrize('damage', ['truncated', 'bad_image', 'bad_label'])
def test_train_and_eval_stop_with_one_line_naming_the_record(
    corrupt, cifarnet_train_dir, tmp_path, damage):
  sets, lines = corrupt
  trained = _train(sets[damage], str(tmp_path / 'train'))
  assert trained.returncode == 2
  assert error_line(trained) == 'error: ' + lines[damage]
  assert 'Graph execution error' not in trained.stderr
  # Evaluation reads the data through the shared cifarnet checkpoint.
  evaluated = _eval(sets[damage], cifarnet_train_dir,
                    str(tmp_path / 'eval'))
  assert evaluated.returncode == 2
  assert error_line(evaluated) == 'error: ' + lines[damage]


def test_eval_skipping_scores_the_rest_and_counts_the_skipped(
    corrupt, cifarnet_train_dir, tmp_path):
  sets, _ = corrupt
  result = _eval(sets['all'], cifarnet_train_dir, str(tmp_path),
                 '--skip_corrupt_records')
  assert result.returncode == 0, result.stderr
  validation = lambda shard: record_file(sets['all'], 'validation', shard)
  assert 'skipped %s record 2: %s' % (validation(1), UNDECODABLE) in \
      result.stderr
  assert 'skipped %s record 4: label out of range [0, 6): 9' % validation(
      1) in result.stderr
  assert re.search('skipped %s record 3: truncated or corrupt at byte ' %
                   re.escape(validation(0)), result.stderr)
  # Shard 0 loses records 3-5 to the truncation: 12 - 3 - 2 scored.
  assert 'Scored 7 examples\nSkipped 3 corrupt record(s)\n' in result.stdout


def test_train_skipping_runs_to_the_end_naming_the_record(corrupt,
                                                          tmp_path):
  sets, _ = corrupt
  result = _train(sets['bad_image'], str(tmp_path), '--skip_corrupt_records')
  assert result.returncode == 0, result.stderr
  assert tf.train.latest_checkpoint(str(tmp_path)).endswith('-50')
  assert result.stderr.count('skipped %s record 2: %s' % (
      record_file(sets['bad_image'], 'validation', 1), UNDECODABLE)) == 1
  assert 'Skipped 1 corrupt record(s)' in result.stderr
