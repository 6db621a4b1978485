"""The outline every converter follows, written once, and the shared reader.

`run()` is the outline: keep a complete earlier conversion unless
--overwrite; find the source (a local copy, or a download); let the dataset
module list what it found (a `Plan`); write each split through
`StagedOutput`, streaming shard by shard (ImageNet does not fit in memory)
and skipping items that cannot be read; commit the records with labels.txt
and dataset_spec.json; log and return a summary. A dataset module supplies
only what differs: a function that turns the source into a `Plan` (the items
of each split, how to make one record, the class names, file pattern and
shards), and, for public data, how to download it.

`get_split()` serves the splits a conversion wrote, with the sizes from its
dataset_spec.json (the official sizes when there is no spec).
"""

import contextlib
import os
from concurrent import futures

from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils


class ConversionError(UserError):
  """A source that cannot be converted, with the reason."""


class Skip(Exception):
  """Raised by a record function for an item to leave out (the reason)."""


class Plan(object):
  """What a converter found in its source; `run()` writes it.

  Attributes:
    splits: {split name: items}, the items in output order; or a function
      returning that list, called when the split is written, so that only
      one split of the source is in memory at a time (CIFAR-10's batches).
    make_record: function item -> serialized tf.train.Example; it raises
      `Skip(reason)` (or OSError/ValueError) for an item to leave out.
    labels_to_names: {label: class name} for labels.txt; its size is the
      class count written to the spec.
    file_pattern: record file pattern, %s = split (and * = shard).
    num_shards: record files per split: an int, or {split: int}.
    missing: [(split, reason)] of the expected splits the source lacks, also
      written to the spec as `missing_splits`; None for a converter whose
      splits are whatever its source holds (image folders, flowers), which
      writes no such field.
    num_threads: threads running make_record (1: in the calling thread).
    describe: function item -> how a skipped item is named in the summary
      when make_record raises OSError/ValueError; by default its position in
      the split.
    require_records: a split in which no item is readable is an error.
    spec: further dataset_spec.json fields; 'source' defaults to the
      absolute path of the source.
    report: function(name, dataset_dir, sizes, skipped, missing, log) that
      logs the outcome; `log_summary` by default.
    summary: further fields of the summary dict `run()` returns.
  """

  def __init__(self, splits, make_record, labels_to_names, file_pattern,
               num_shards=1, missing=None, num_threads=1, describe=None,
               require_records=False, spec=None, report=None, summary=None):
    self.splits = splits
    self.make_record = make_record
    self.labels_to_names = labels_to_names
    self.file_pattern = file_pattern
    self.num_shards = num_shards
    self.missing = missing
    self.num_threads = num_threads
    self.describe = describe
    self.require_records = require_records
    self.spec = dict(spec or {})
    self.report = report or log_summary
    self.summary = dict(summary or {})

  def shards(self, split):
    """Record files of `split`."""
    if isinstance(self.num_shards, dict):
      return self.num_shards[split]
    return self.num_shards

  def items(self, split):
    """The items of `split`, read from the source now if they are lazy."""
    items = self.splits[split]
    return items() if callable(items) else items


def run(name, dataset_dir, plan, source=None, download_fn=None,
        overwrite=False, log=print, where_to_get=None):
  """Converts a source into dataset_dir: the outline of every converter.

  Args:
    name: the dataset name, written to the spec (e.g. 'mnist').
    dataset_dir: output folder.
    plan: function(source, resources) -> `Plan`, where source is the local
      source path and resources a contextlib.ExitStack that closes what the
      plan opens (an archive, a temporary folder) once the output is
      committed or the conversion fails.
    source: local copy of the source (file or folder), or None.
    download_fn: function(download_dir, log) -> downloaded source, used when
      source is None; without it, source is required and must be a folder.
    overwrite: replace a complete earlier conversion.
    log: function taking a message line.
    where_to_get: appended to the error of a missing source: where to find
      it.

  Returns:
    {'splits': {split: records}, 'skipped': [reasons], 'missing': [splits]}
    plus the plan's `summary` fields; or, when a complete conversion is
    kept, its summary with 'existing': True.

  Raises:
    ConversionError: no usable source; a split without a readable item when
      the plan requires records; whatever the plan raises.
  """
  require_dataset_dir(dataset_dir)
  existing = existing_conversion(dataset_dir, overwrite, log)
  if existing:
    return existing
  source = _local_source(name, source, dataset_dir, download_fn, where_to_get,
                         log)
  with contextlib.ExitStack() as resources:
    found = plan(source, resources)
    missing = found.missing or []
    sizes, skipped = {}, []
    with dataset_utils.StagedOutput(dataset_dir) as output:
      for split in sorted(found.splits):
        sizes[split], problems = write_split(
            output, found.items(split), found.make_record, found.file_pattern,
            split, found.shards(split), '%s %s' % (name, split),
            num_threads=found.num_threads, describe=found.describe)
        skipped += problems
        if found.require_records and not sizes[split]:
          raise ConversionError('No readable image in split %s of %s' %
                                (split, source))
      spec = {'source': os.path.abspath(source)}
      if found.missing is not None:
        spec['missing_splits'] = [split for split, _ in missing]
      spec.update(found.spec)
      output.commit(name, sizes, len(found.labels_to_names),
                    found.file_pattern, labels_to_names=found.labels_to_names,
                    **spec)
  found.report(name, dataset_dir, sizes, skipped, missing, log)
  result = summary(sizes, skipped, missing)
  result.update(found.summary)
  return result


def require_dataset_dir(dataset_dir):
  """Raises ConversionError unless dataset_dir names a folder to write to."""
  if not dataset_dir or not isinstance(dataset_dir, (str, os.PathLike)):
    raise ConversionError('No dataset_dir (%r): give the folder to write the '
                          'records to (--dataset_dir)' % (dataset_dir,))


def _local_source(name, source, dataset_dir, download_fn, where_to_get, log):
  """The source path to convert; see run()."""
  if download_fn:
    return local_or_download(source, dataset_dir, download_fn, log)
  where = '. ' + where_to_get if where_to_get else ''
  if not source:
    raise ConversionError('--source_dir is required for %s%s' % (name, where))
  if not os.path.isdir(source):
    raise ConversionError('--source_dir %s is not a folder%s' %
                          (source, where))
  return source


def shards_per_split(num_shards, defaults):
  """{split: files}: `defaults`, or one int for every split, or `defaults`
  updated with a {split: files} dict."""
  if isinstance(num_shards, dict):
    return dict(defaults, **num_shards)
  if num_shards:
    return {split: int(num_shards) for split in defaults}
  return dict(defaults)


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
                num_shards, label, num_threads=4, describe=None):
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
    describe: function item -> its name in the reason of an OSError or
      ValueError skip; None: the item's position in the split.

  Returns:
    (number of records written, [reasons of skipped items]).
  """
  if '*' not in file_pattern % split_name:
    num_shards = 1
  num_shards = max(1, min(num_shards, len(items)))
  per_shard = -(-len(items) // num_shards)
  progress = dataset_utils.Progress('Converting %s' % label, len(items))
  skipped = []

  def guarded(position):
    item = items[position]
    try:
      return make_record(item), None
    except Skip as e:
      return None, str(e)
    except (OSError, ValueError, SyntaxError) as e:
      return None, '%s: %s' % (describe(item) if describe else position, e)

  def records(positions):
    """The records of `positions`, in order; skips are noted as they come."""
    results = pool.map(guarded, positions) if pool else map(guarded,
                                                            positions)
    for record, problem in results:
      progress.advance()
      if problem is None:
        yield record
      else:
        skipped.append(problem)

  pool = futures.ThreadPoolExecutor(num_threads) if num_threads > 1 else None
  try:
    for shard in range(num_shards):
      positions = range(shard * per_shard,
                        min((shard + 1) * per_shard, len(items)))
      output.write_records(records(positions), file_pattern, split_name,
                           shard, num_shards)
  finally:
    if pool:
      pool.shutdown()
  return len(items) - len(skipped), skipped


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
