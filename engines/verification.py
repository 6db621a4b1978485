"""Verifying a converted dataset: `run(ConvertConfig)` with --verify.

Every record of every split the dataset spec lists is read through the
input pipeline (engines/pipeline.py) as training and evaluation read it:
the files to their end, each record parsed, its image decoded and its label
checked against the class count. The bad records are skipped and listed, so
one pass finds them all; the few whose image does not decode are then read
once more alone for TensorFlow's own reason.
"""

import collections

import tensorflow.compat.v1 as tf

from slimvision.core import errors
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.engines import pipeline

BadRecord = collections.namedtuple('BadRecord', ['file', 'index', 'reason'])


class Verification(collections.namedtuple(
    'Verification', ['dataset_dir', 'splits', 'bad'])):
  """What verify() found.

  Attributes:
    dataset_dir: the folder verified.
    splits: {split: (good records read, records the spec declares)}.
    bad: [BadRecord], in file and index order.
  """

  def report(self):
    """The listing: one line per bad record, then one per split."""
    lines = ['bad record: %s record %d: %s' % bad for bad in self.bad]
    for split, (good, declared) in sorted(self.splits.items()):
      lines.append('%s: %d good record(s) (%d declared)' %
                   (split, good, declared))
    return '\n'.join(lines)


def _read_record(path, index):
  """Record `index` of the record file `path` (serialized bytes)."""
  with tf.Graph().as_default(), tf.Session() as session:
    record = tf.data.make_one_shot_iterator(
        tf.data.TFRecordDataset(path).skip(index).take(1)).get_next()
    return session.run(record)


def _decode_error(dataset, record):
  """TensorFlow's reason why `record` does not decode, or None."""
  with tf.Graph().as_default(), tf.Session() as session:
    decoded = pipeline.decode_fn(dataset)(tf.constant(record))
    try:
      session.run(decoded)
    except tf.errors.OpError as e:
      return errors.tf_error_text(e.message)
  return None


def _verify_split(dataset, batch_size, num_threads):
  """(good records read, [BadRecord]) of one split's slim Dataset."""
  skipped = pipeline.SkippedRecords(warn=False)
  good = 0
  with tf.Graph().as_default():
    # Only the decoded shape goes on: a batch of [3] vectors.
    batches = pipeline.build_dataset(
        dataset, tf.shape, batch_size, is_training=False,
        num_threads=num_threads, skipped=skipped)
    _, labels = tf.data.make_one_shot_iterator(batches).get_next()
    with tf.Session() as session:
      while True:
        try:
          good += len(session.run(labels))
        except tf.errors.OutOfRangeError:
          break
  bad = []
  for (path, index), reason in sorted(skipped.records.items()):
    if reason == pipeline.UNDECODABLE:
      why = _decode_error(dataset, _read_record(path, index))
      reason = 'cannot be decoded: %s' % why if why else reason
    bad.append(BadRecord(path, index, reason))
  if skipped.unnamed:
    bad.append(BadRecord(dataset.data_sources, -1, '%d more record(s): %s' %
                         (skipped.unnamed, pipeline.UNDECODABLE)))
  return good, bad


def verify(dataset_name, dataset_dir, batch_size=256, num_threads=4):
  """Reads every record of every split of a converted dataset.

  Args:
    dataset_name: the name it was converted under.
    dataset_dir: the folder with its records and dataset_spec.json.
    batch_size: records per read.
    num_threads: parallel decoding calls.

  Returns:
    A Verification.

  Raises:
    dataset_utils.DatasetError: no complete conversion in dataset_dir.
  """
  spec = dataset_utils.require_spec(dataset_dir)
  splits, bad = {}, []
  for split in sorted(spec['splits']):
    dataset = dataset_factory.get_dataset(dataset_name, split, dataset_dir)
    log.info('Verifying %s/%s: %d records', dataset_name, split,
             dataset.num_samples)
    good, split_bad = _verify_split(dataset, batch_size, num_threads)
    splits[split] = (good, dataset.num_samples)
    bad.extend(split_bad)
  return Verification(dataset_dir, splits, bad)


def run(config):
  """--verify of download_and_convert_data.py: prints the listing; raises
  UserError (exit status 2) if any record is bad."""
  result = verify(config.dataset_name, config.dataset_dir)
  print(result.report(), flush=True)
  if result.bad:
    raise UserError('%d bad record(s) in %s (listed above)' %
                    (len(result.bad), config.dataset_dir))
  log.info('Verified %s: every record is good', config.dataset_dir)
  return result
