"""The evaluation engine: `run(EvalConfig)` scores checkpoints on a split.

With --tflite_file it scores that TFLite model (float or integer) instead,
on the same input and with the same metrics, so an exported model's figure
is measured rather than assumed. With --quantize the graph is the
quantization-aware one (engines/quantization.py) of a checkpoint trained
with --quantize_delay.

Every example of the split is counted exactly once: the eval graph reads the
split once in file order (keeping the last partial batch), and the scores
are accumulated from the model's outputs in NumPy: accuracy, recall@5,
per-class accuracy and the confusion matrix. The scores then go to stdout
and to TensorBoard under the eval_dir. In loop mode (eval_interval_secs > 0)
each new checkpoint of a training folder is evaluated as it appears.
"""

import collections
import io

import numpy as np
import tensorflow.compat.v1 as tf

from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_factory
from slimvision.engines import checkpoints
from slimvision.engines import inference
from slimvision.engines import pipeline
from slimvision.engines import precision as precision_lib
from slimvision.engines import quantization
from slimvision.engines import tflite as tflite_lib
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory


class Scores(object):
  """Accumulates predictions; all counts are exact integers."""

  def __init__(self, num_classes, k=5):
    self.num_classes = num_classes
    self.k = min(k, num_classes)
    self.count = 0
    # Corrupt records skipped (--skip_corrupt_records), else None.
    self.skipped = None
    self.correct = 0
    self.correct_top_k = 0
    self.confusion = np.zeros((num_classes, num_classes), np.int64)

  def update(self, logits, labels):
    """Adds a batch: logits [batch, num_classes], labels int [batch]."""
    labels = np.asarray(labels, np.int64)
    predictions = np.argmax(logits, axis=1)
    # Rank of the true class (0 = top): ties count in the label's favour,
    # as tf.nn.in_top_k does.
    true_logits = logits[np.arange(len(labels)), labels][:, None]
    rank = np.sum(logits > true_logits, axis=1)
    self.count += len(labels)
    self.correct += int(np.sum(predictions == labels))
    self.correct_top_k += int(np.sum(rank < self.k))
    np.add.at(self.confusion, (labels, predictions), 1)

  @property
  def accuracy(self):
    return self.correct / float(max(1, self.count))

  @property
  def recall_at_k(self):
    return self.correct_top_k / float(max(1, self.count))

  def per_class_accuracy(self):
    """Array [num_classes]: correct / examples of each class (NaN if none).
    This is also each class's recall."""
    return _ratio(np.diag(self.confusion), self.confusion.sum(axis=1))

  def per_class_precision(self):
    """Array [num_classes]: correct / predictions of each class (NaN if the
    class was never predicted)."""
    return _ratio(np.diag(self.confusion), self.confusion.sum(axis=0))

  def per_class_f1(self):
    """Array [num_classes]: harmonic mean of precision and recall (0 where
    both are 0, NaN where either is undefined)."""
    precision, recall = self.per_class_precision(), self.per_class_accuracy()
    total = precision + recall
    with np.errstate(invalid='ignore', divide='ignore'):
      return np.where(total > 0, 2 * precision * recall / total,
                      np.where(np.isnan(total), np.nan, 0.0))

  def class_table(self, names):
    """Rows (name, examples, precision, recall, F1) for each class."""
    return list(zip(names, self.confusion.sum(axis=1),
                    self.per_class_precision(), self.per_class_accuracy(),
                    self.per_class_f1()))

  def report(self, labels_to_names=None):
    """A printable table: metrics, per-class scores, confusion matrix."""
    names = class_names(self.num_classes, labels_to_names)
    width = max(6, max(len(n) for n in names))
    lines = ['Scored %d examples' % self.count]
    if self.skipped is not None:
      lines.append('Skipped %d corrupt record(s)' % self.skipped)
    lines += ['Accuracy: %.4f' % self.accuracy,
              'Recall_%d: %.4f' % (self.k, self.recall_at_k),
              'Per class:',
              '  %-*s %9s %17s %7s' % (width, '', 'precision',
                                       'recall (accuracy)', 'F1')]
    for name, total, precision, recall, f1 in self.class_table(names):
      lines.append('  %-*s %9s %17s %7s  (%d examples)' % (
          width, name, _number(precision), _number(recall), _number(f1),
          total))
    lines.append('Confusion matrix (rows: true class, columns: predicted):')
    lines.append(' ' * (width + 2) + ' '.join('%6s' % n[:6] for n in names))
    for name, row in zip(names, self.confusion):
      lines.append('  %-*s ' % (width, name) +
                   ' '.join('%6d' % v for v in row))
    return '\n'.join(lines)


def _ratio(numerator, denominator):
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1),
                    np.nan)


def _number(value):
  return 'n/a' if np.isnan(value) else '%.4f' % value


def class_names(num_classes, labels_to_names=None):
  """The name of each class index (its number where labels.txt has none)."""
  return [str((labels_to_names or {}).get(i, i)) for i in range(num_classes)]


def one_class_warning(scores, labels_to_names=None, share=0.95,
                      batch_norm=True):
  """A warning when (nearly) every example is predicted as one class.

  With batch norm, that is the mark of moving statistics that lag the
  weights (a short run from scratch with the networks' default decay of
  0.9997); without it (batch_norm False: LeNet, CifarNet, VGG...), of a
  model that has not learnt yet. A split that is itself (nearly) one class
  is not flagged.

  Returns:
    The warning text, or None.
  """
  if scores.count < 10 or scores.num_classes < 2:
    return None
  predicted = scores.confusion.sum(axis=0)
  top = int(np.argmax(predicted))
  if predicted[top] < share * scores.count:
    return None
  if scores.confusion.sum(axis=1).max() >= share * scores.count:
    return None
  name = (labels_to_names or {}).get(top, top)
  finding = 'Warning: %d of %d examples (%.0f%%) were predicted as %r.' % (
      predicted[top], scores.count, 100.0 * predicted[top] / scores.count,
      name)
  if not batch_norm:
    return finding + (
        ' The model does not tell the classes apart yet (it has no batch '
        'norm, so no moving statistics to blame): train longer, or with '
        'another --learning_rate.')
  return finding + (
      ' This is the mark of stale batch-norm statistics: after a short run '
      'from scratch, the moving mean and variance that evaluation uses still '
      'describe the first steps\' weights. Train with a lower '
      '--batch_norm_decay (e.g. 0.99), train longer, or evaluate the '
      'moving averages of the weights with --moving_average_decay.')


def _draw_cell(draw, box, count, share, text_size):
  """One cell of the confusion image: `count` on a shade of its `share` of
  the row; box is (x, y, side)."""
  from PIL import ImageFont  # pylint: disable=g-import-not-at-top
  x, y, cell = box
  shade = (int(255 - 215 * share), int(255 - 175 * share),
           int(255 - 60 * share))
  draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=shade,
                 outline=(200, 200, 200))
  count = str(int(count))
  w, h = text_size(count)
  draw.text((x + (cell - w) // 2, y + (cell - h) // 2), count,
            fill='white' if share > 0.5 else 'black',
            font=ImageFont.load_default())


def confusion_image(confusion, names, cell=None):
  """PNG of the confusion matrix that a person can read.

  Each cell shows its count, shaded by its share of the true class's
  examples (row-normalised: white 0, dark blue all of them); the rows
  (true class) and columns (predicted) are labelled with the class names.

  Args:
    confusion: int array [num_classes, num_classes], rows true, columns
      predicted.
    names: the class names, [num_classes].
    cell: cell side in pixels (default: wide enough for the counts).

  Returns:
    (PNG bytes, (width, height) in pixels).
  """
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  font = ImageFont.load_default()
  measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))

  def text_size(text):
    left, top, right, bottom = measure.textbbox((0, 0), text, font=font)
    return right - left, bottom - top

  num_classes = len(names)
  labels = [n[:16] for n in names]
  cell = cell or max(28, 8 + max(text_size(str(int(v)))[0]
                                 for v in confusion.flat))
  label_width = 8 + max(text_size(n)[0] for n in labels)
  label_height = max(text_size(n)[1] for n in labels)
  title = 'true class (rows) / predicted (columns)'
  top = 2 * label_height + 14 + max(text_size(n)[0] for n in labels)
  width = max(label_width + num_classes * cell, text_size(title)[0] + 8)
  height = top + num_classes * cell + 4
  image = Image.new('RGB', (width, height), 'white')
  draw = ImageDraw.Draw(image)
  draw.text((4, 2), title, fill='black', font=font)
  totals = np.maximum(confusion.sum(axis=1), 1)
  for j, name in enumerate(labels):  # Column labels, written upwards.
    w, h = text_size(name)
    strip = Image.new('RGB', (w + 2, h + 4), 'white')
    ImageDraw.Draw(strip).text((0, 0), name, fill='black', font=font)
    strip = strip.rotate(90, expand=True)
    image.paste(strip, (label_width + j * cell + (cell - strip.size[0]) // 2,
                        top - strip.size[1] - 2))
  for i, name in enumerate(labels):
    y = top + i * cell
    draw.text((4, y + (cell - label_height) // 2), name, fill='black',
              font=font)
    for j in range(num_classes):
      _draw_cell(draw, (label_width + j * cell, y, cell), confusion[i, j],
                 confusion[i, j] / float(totals[i]), text_size)
  buffer = io.BytesIO()
  image.save(buffer, format='PNG')
  return buffer.getvalue(), image.size


def _text_summary(tag, markdown):
  """A TensorBoard text summary (the Text tab) of `markdown`."""
  metadata = tf.SummaryMetadata(
      plugin_data=tf.SummaryMetadata.PluginData(plugin_name='text'))
  tensor = tf.make_tensor_proto(markdown.encode('utf-8'), dtype=tf.string)
  return tf.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)


def write_summaries(eval_dir, global_step, scores, labels_to_names=None):
  """Writes eval/Accuracy, eval/Recall_5, per-class precision, recall
  (accuracy) and F1, a table of them (text) and the labelled
  confusion-matrix image as TensorBoard summaries in eval_dir."""
  names = class_names(scores.num_classes, labels_to_names)
  values = [
      tf.Summary.Value(tag='eval/Accuracy', simple_value=scores.accuracy),
      tf.Summary.Value(tag='eval/Recall_%d' % scores.k,
                       simple_value=scores.recall_at_k),
      tf.Summary.Value(tag='eval/num_examples',
                       simple_value=float(scores.count)),
  ]
  rows = ['| class | examples | precision | recall | F1 |',
          '|---|---|---|---|---|']
  for name, total, precision, recall, f1 in scores.class_table(names):
    rows.append('| %s | %d | %s | %s | %s |' % (
        name, total, _number(precision), _number(recall), _number(f1)))
    for metric, value in (('per_class_accuracy', recall),
                          ('precision', precision), ('f1', f1)):
      if not np.isnan(value):
        values.append(tf.Summary.Value(tag='eval/%s/%s' % (metric, name),
                                       simple_value=value))
  values.append(_text_summary('eval/per_class', '\n'.join(rows)))
  png, (width, height) = confusion_image(scores.confusion, names)
  values.append(tf.Summary.Value(
      tag='eval/confusion_matrix', image=tf.Summary.Image(
          height=height, width=width, colorspace=3,
          encoded_image_string=png)))
  # The TF1 event writer needs graph mode; the summaries are plain protos.
  with tf.Graph().as_default():
    writer = tf.summary.FileWriterCache.get(eval_dir)
  writer.add_summary(tf.Summary(value=values), global_step)
  writer.flush()


def evaluate(session, iterator_init, logits, labels, num_classes, *,
             max_num_batches=None, skipped=None, model=None):
  """Runs the eval graph over the split once; returns Scores.

  Args:
    session: a session with the model variables restored.
    iterator_init: op that (re)starts the input at the split's beginning.
    logits: Tensor [batch, num_classes]; labels: Tensor [batch].
    num_classes: logits width.
    max_num_batches: stop after this many batches (None: the whole split).
    skipped: the input's pipeline.SkippedRecords when it skips corrupt
      records (counted in Scores.skipped), else None.
    model: None, or a function from the NumPy values of `logits` (then the
      preprocessed images) to the model's outputs (a TFLite model's).
  """
  scores = Scores(num_classes)
  if skipped is not None:
    skipped.reset()
  session.run(iterator_init)
  batches = 0
  while max_num_batches is None or batches < max_num_batches:
    try:
      batch_logits, batch_labels = session.run([logits, labels])
    except tf.errors.OutOfRangeError:
      break
    if model is not None:
      batch_logits = model(batch_logits)
    scores.update(batch_logits, batch_labels)
    batches += 1
  log.info('Scored %d examples in %d batches', scores.count, batches)
  if skipped is not None:
    scores.skipped = skipped.count
    log.info(skipped.summary())
  return scores


_EvalGraph = collections.namedtuple(
    '_EvalGraph',
    ['dataset', 'init_op', 'logits', 'labels', 'var_map', 'skipped'])


def run(config):
  """Evaluates as `config` (an EvalConfig) says.

  Returns:
    The Scores of each checkpoint evaluated, in order.

  Raises:
    UserError: a setting, checkpoint or split the evaluation cannot use.
  """
  config.validate()
  if config.tflite_file:
    return [_evaluate_tflite(config)]
  if config.eval_interval_secs > 0 and not tf.gfile.IsDirectory(
      config.checkpoint_path or ''):
    raise UserError('--eval_interval_secs needs --checkpoint_path to be a '
                    'training folder, got %s' % config.checkpoint_path)
  chosen, reason = precision_lib.choose(config.precision, config.model_name,
                                        in_cluster=bool(config.master))
  log.info('Precision: %s (%s)', chosen, reason)
  session_config = precision_lib.session_config_for(
      chosen, pipeline.session_config(config), in_cluster=bool(config.master))
  tf.gfile.MakeDirs(config.eval_dir)
  results = []
  with tf.Graph().as_default():
    graph = _build_graph(config)
    if config.eval_interval_secs > 0:
      unreadable = []
      for path in tf.train.checkpoints_iterator(
          config.checkpoint_path, min_interval_secs=config.eval_interval_secs,
          timeout=config.eval_timeout_secs):
        try:
          results.append(_evaluate_checkpoint(config, path, graph,
                                              session_config))
        except checkpoints.UnreadableCheckpoint as e:
          # The next checkpoint may well read: keep watching.
          log.warning('Warning: skipping it: %s', e)
          unreadable.append(path)
      if not results:
        raise UserError(
            'no checkpoint evaluated: %s in --checkpoint_path %s within '
            '--eval_timeout_secs=%s' % (
                '%d unreadable, none readable' % len(unreadable)
                if unreadable else 'none appeared',
                config.checkpoint_path, config.eval_timeout_secs))
      log.info('No new checkpoint for %s s: evaluated %d checkpoint(s); done',
               config.eval_timeout_secs, len(results))
    else:
      results.append(_evaluate_checkpoint(
          config, checkpoints.resolve(config.checkpoint_path), graph,
          session_config))
  log.info('TensorBoard summaries in %s', config.eval_dir)
  return results


def _input(config, image_size, use_grayscale):
  """The split's batches through the eval preprocessing, in the default
  graph: (dataset, num_classes, iterator, skipped)."""
  dataset = dataset_factory.get_dataset(
      config.dataset_name, config.dataset_split_name, config.dataset_dir)
  num_classes = pipeline.classes_after_offset(
      config.dataset_name, dataset.num_classes, config.labels_offset)
  preprocessing_fn = preprocessing_factory.get_preprocessing(
      config.preprocessing, is_training=False, use_grayscale=use_grayscale)
  options = inference.eval_preprocessing_options(
      config.preprocessing, config.central_crop_fraction)

  def preprocess(image):
    return preprocessing_fn(image, image_size, image_size, **options)

  skipped = (pipeline.SkippedRecords() if config.skip_corrupt_records
             else None)
  batches = pipeline.build_dataset(
      dataset, preprocess, batch_size=config.batch_size, is_training=False,
      num_threads=config.num_preprocessing_threads,
      input_threads=config.input_threads,
      labels_offset=config.labels_offset, skipped=skipped,
      encoded_images=pipeline.use_encoded_images(
          config.jpeg_decode, preprocessing_fn, dataset))
  return (dataset, num_classes, tf.data.make_initializable_iterator(batches),
          skipped)


def _build_graph(config):
  """The eval graph in the default graph."""
  image_size = (config.eval_image_size or
                nets_factory.model_spec(config.model_name).image_size())
  tf.train.get_or_create_global_step()
  dataset, num_classes, iterator, skipped = _input(config, image_size,
                                                   config.use_grayscale)
  network_fn = nets_factory.get_network_fn(config.model_name, num_classes,
                                           is_training=False)
  images, labels = iterator.get_next()
  with nets_factory.image_too_small_names_flag('--eval_image_size'):
    logits, _ = network_fn(images)
  if config.quantize:
    quantization.create_eval_graph(tf.get_default_graph())
  var_map = checkpoints.variables_to_restore(config.moving_average_decay)
  return _EvalGraph(dataset, iterator.initializer, logits, labels, var_map,
                    skipped)


def _tflite_input_geometry(config, model):
  """(image size, grayscale) of the TFLite model's input, checked against
  --eval_image_size and --use_grayscale."""
  if config.eval_image_size and config.eval_image_size != model.image_size:
    raise UserError('--eval_image_size=%d, but --tflite_file %s takes %d px '
                    'images' % (config.eval_image_size, config.tflite_file,
                                model.image_size))
  if model.channels not in (1, 3) or (config.use_grayscale and
                                      model.channels != 1):
    raise UserError('--tflite_file %s takes %d-channel images%s' % (
        config.tflite_file, model.channels,
        ', not grayscale (--use_grayscale)' if model.channels == 3 else ''))
  return model.image_size, model.channels == 1


def _evaluate_tflite(config):
  """Scores --tflite_file on the split, as _evaluate_checkpoint scores a
  checkpoint (its output ranks the classes as the logits do)."""
  model = tflite_lib.Model(config.tflite_file)
  image_size, grayscale = _tflite_input_geometry(config, model)
  tf.gfile.MakeDirs(config.eval_dir)
  with tf.Graph().as_default():
    dataset, num_classes, iterator, skipped = _input(config, image_size,
                                                     grayscale)
    if num_classes != model.num_classes:
      raise UserError('--tflite_file %s has %d outputs, but %s has %d '
                      'classes (after --labels_offset)' % (
                          config.tflite_file, model.num_classes,
                          config.dataset_name, num_classes))
    images, labels = iterator.get_next()
    with tf.Session(config=pipeline.session_config(config)) as session:
      log.info('Evaluating %s on %s/%s', config.tflite_file,
               config.dataset_name, config.dataset_split_name)
      scores = evaluate(session, iterator.initializer, images, labels,
                        num_classes, max_num_batches=config.max_num_batches,
                        skipped=skipped, model=model.outputs)
  graph = _EvalGraph(dataset, None, None, None, None, skipped)
  return _report(config, graph, scores, step=0)


def _evaluate_checkpoint(config, checkpoint_path, graph, session_config=None):
  """Scores one checkpoint; prints the report and writes the summaries.
  `session_config` (a ConfigProto) sets the precision's graph rewrite."""
  saver = checkpoints.restorer(checkpoint_path, graph.var_map)
  with tf.Session(config.master, config=session_config) as session:
    session.run(tf.local_variables_initializer())
    saver.restore(session, checkpoint_path)
    step = session.run(tf.train.get_global_step())
    log.info('Evaluating %s (step %d) on %s/%s', checkpoint_path, step,
             config.dataset_name, config.dataset_split_name)
    scores = evaluate(session, graph.init_op, graph.logits, graph.labels,
                      graph.logits.shape[-1],
                      max_num_batches=config.max_num_batches,
                      skipped=graph.skipped)
  return _report(config, graph, scores, step)


def _has_moving_statistics(graph):
  """Whether the restored model has batch-norm moving statistics (True
  where unknown: a TFLite model)."""
  if graph.var_map is None:
    return True
  # Shadows of moving averages (.../moving_mean/ExponentialMovingAverage)
  # count too.
  return any('/moving_mean' in name or '/moving_variance' in name
             for name in graph.var_map)


def _report(config, graph, scores, step):
  """Prints the scores of one model and writes their summaries; returns
  them."""
  if scores.count == 0:
    raise UserError('the split %s of %s has no examples to score' %
                    (config.dataset_split_name, config.dataset_dir))
  num_samples = graph.dataset.num_samples
  if config.max_num_batches is None and scores.count + (
      scores.skipped or 0) != num_samples:
    log.warning('Scored %d examples but the dataset declares %d for split %s',
                scores.count, num_samples, config.dataset_split_name)
  print(scores.report(graph.dataset.labels_to_names), flush=True)
  # research/slim's lines (its tf.Print of each metric), which scripts
  # parse from its logs.
  log.info('eval/Accuracy[%g]', scores.accuracy)
  log.info('eval/Recall_%d[%g]', scores.k, scores.recall_at_k)
  warning = one_class_warning(scores, graph.dataset.labels_to_names,
                              batch_norm=_has_moving_statistics(graph))
  if warning:
    log.warning('%s', warning)
  write_summaries(config.eval_dir, step, scores,
                  graph.dataset.labels_to_names)
  return scores
