"""Steps shared by the public-dataset converters (cifar10, flowers, mnist,
imagenet, visualwakewords) and their readers.

* `existing_conversion()`: a complete earlier output is kept unless
  --overwrite;
* `write_split()`: turns a list of source items into sharded records through
  `StagedOutput`, streaming shard by shard (ImageNet does not fit in memory),
  skipping and counting items that cannot be read;
* `log_summary()`: records per split, missing splits, skipped items and why;
* `get_split()`: serves the splits a conversion wrote, with the sizes from its
  dataset_spec.json (the official sizes when there is no spec).
"""

import os
from concurrent import futures

from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils


class ConversionError(UserError):
  """A source that cannot be converted, with the reason."""


class Skip(Exception):
  """Raised by a record function for an item to leave out (the reason)."""


def existing_conversion(dataset_dir, overwrite, log=print):
  """The summary of a complete conversion in dataset_dir, unless overwrite.

  Returns:
    None when a conversion should run; otherwise the summary dict of the
    output already there (after saying so through `log`).
  """
  if overwrite or not os.path.isdir(dataset_dir):
    return None
  spec = dataset_utils.read_spec(dataset_dir)
  if not spec:
    return None
  log('%s already holds a complete %s conversion (%s); nothing to do. Pass '
      '--overwrite to convert again.' % (
          dataset_dir, spec.get('name'),
          ', '.join('%s %d' % kv for kv in sorted(spec['splits'].items()))))
  return {'splits': spec['splits'], 'skipped': [], 'missing': [],
          'existing': True}


def write_split(output, items, make_record, file_pattern, split_name,
                num_shards, label, num_threads=4):
  """Writes the records of one split, shard by shard, into `output`.

  Args:
    output: a dataset_utils.StagedOutput.
    items: the source items, in output order.
    make_record: function item -> serialized tf.train.Example; it raises
      `Skip(reason)` (or OSError/ValueError) for an item to leave out.
    file_pattern: e.g. 'train-*' style pattern with %s for the split.
    split_name: e.g. 'train'.
    num_shards: record files (fewer if the split is smaller; 1 if the pattern
      has no '*').
    label: progress label, e.g. 'cifar10 train'.
    num_threads: threads running make_record (1: in this thread).

  Returns:
    (number of records written, [reasons of skipped items]).
  """
  if '*' not in file_pattern % split_name:
    num_shards = 1
  num_shards = max(1, min(num_shards, len(items)))
  per_shard = -(-len(items) // num_shards)
  progress = dataset_utils.Progress('Converting %s' % label, len(items))
  written, skipped = 0, []

  def guarded(item):
    try:
      return make_record(item), None
    except Skip as e:
      return None, str(e)
    except (OSError, ValueError, SyntaxError) as e:
      return None, '%s: %s' % (item, e)

  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  pool = futures.ThreadPoolExecutor(num_threads) if num_threads > 1 else None
  try:
    for shard in range(num_shards):
      chunk = items[shard * per_shard:(shard + 1) * per_shard]
      name = dataset_utils.shard_filename(file_pattern, split_name, shard,
                                          num_shards)
      results = pool.map(guarded, chunk) if pool else map(guarded, chunk)
      with tf.io.TFRecordWriter(output.path(name)) as writer:
        for record, problem in results:
          progress.advance()
          if problem is not None:
            skipped.append(problem)
          else:
            writer.write(record)
            written += 1
  finally:
    if pool:
      pool.shutdown()
  return written, skipped


def log_summary(name, dataset_dir, sizes, skipped, missing, log=print,
                max_reasons=20):
  """Logs records per split, missing splits and skipped items (with why)."""
  log('Wrote %s to %s: %s' % (
      name, dataset_dir,
      ', '.join('%s %d records' % kv for kv in sorted(sizes.items()))))
  for split, reason in missing:
    log('  split %s not converted: %s' % (split, reason))
  log('  %d item(s) skipped' % len(skipped))
  for problem in skipped[:max_reasons]:
    log('  skipped %s' % problem)
  if len(skipped) > max_reasons:
    log('  ... and %d more' % (len(skipped) - max_reasons))


def summary(sizes, skipped, missing):
  """The dict every converter returns."""
  return {'splits': dict(sizes), 'skipped': list(skipped),
          'missing': [split for split, _ in missing]}


def get_split(name, split_name, dataset_dir, file_pattern, official_sizes,
              num_classes, reader=None, decoder=None,
              items_to_descriptions=None):
  """The slim Dataset of a split of a public dataset converted here.

  The split sizes (and class count) come from the dataset_spec.json the
  conversion wrote, so a conversion of part of a source (only the MNIST test
  files, a small fixture) is served with its real counts and only with the
  splits it has; without a spec the official sizes are used.

  Raises:
    dataset_utils.DatasetError: unknown split, a split this folder lacks, or
      missing record files; the message lists the valid/available splits.
  """
  sizes = dict(official_sizes)
  spec = None
  if dataset_dir and os.path.isdir(dataset_dir):
    spec = dataset_utils.read_spec(dataset_dir)
  if spec and spec.get('name') == name:
    sizes = {k: int(v) for k, v in spec['splits'].items()}
    num_classes = int(spec.get('num_classes', num_classes))
  if split_name not in sizes:
    if split_name in official_sizes:
      raise dataset_utils.DatasetError(
          'Split %r of %s was not converted into %s; available splits: %s. '
          'Convert it from a source that has it with '
          'download_and_convert_data.py --dataset_name=%s --overwrite' % (
              split_name, name, dataset_dir, ', '.join(sorted(sizes)) or
              'none', name))
    raise dataset_utils.DatasetError(
        'Unknown split %r for dataset %s; valid splits: %s%s' % (
            split_name, name, ', '.join(sorted(official_sizes)),
            ' (converted in %s: %s)' % (dataset_dir, ', '.join(sorted(sizes)))
            if spec else ''))
  return dataset_utils.make_split(
      split_name, dataset_dir, file_pattern, sizes, num_classes, name,
      reader=reader, decoder=decoder,
      items_to_descriptions=items_to_descriptions)


def local_or_download(source, dataset_dir, download_fn, log=print):
  """`source` if given (it must exist), else the result of download_fn()."""
  if source:
    if not os.path.exists(source):
      raise ConversionError('--source_dir %s does not exist' % source)
    return source
  return download_fn(os.path.join(dataset_dir, 'downloads'), log)
