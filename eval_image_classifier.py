r"""Evaluates a checkpoint on a split: Accuracy, Recall_5, per-class scores.

Usage:
  python eval_image_classifier.py --checkpoint_path=/tmp/train \
      --eval_dir=/tmp/eval --dataset_name=shapes \
      --dataset_split_name=validation --dataset_dir=/tmp/shapes \
      --model_name=cifarnet

With --eval_interval_secs > 0 and --checkpoint_path a training folder, it
evaluates each new checkpoint as it appears until --eval_timeout_secs pass
without one.
"""

if __name__ == '__main__' and not __package__:
  import _checkout  # noqa: F401  (run from a source checkout)

from absl import flags
import tensorflow.compat.v1 as tf

from slimvision.core import checkpoints
from slimvision.core import evaluation
from slimvision.core import flags as common_flags
from slimvision.core import log
from slimvision.core import pipeline
from slimvision.core.errors import UserError, run_main
from slimvision.datasets import dataset_factory
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory

FLAGS = flags.FLAGS

flags.DEFINE_integer('max_num_batches', None,
                     'Max number of batches to evaluate by default use all.')
flags.DEFINE_string('master', '', 'The address of the TensorFlow master to use.')
flags.DEFINE_string('checkpoint_path', '/tmp/tfmodel/',
                    'The directory where the model was written to or an '
                    'absolute path to a checkpoint file.')
flags.DEFINE_string('eval_dir', '/tmp/tfmodel/',
                    'Directory where the results are saved to.')
flags.DEFINE_float('moving_average_decay', None,
                   'The decay to use for the moving average. If left as None, '
                   'then moving averages are not used.')
flags.DEFINE_bool('quantize', False, 'whether to use quantized graph or not.')
flags.DEFINE_integer('eval_interval_secs', 0,
                     'With a checkpoint folder: wait at least this long '
                     'between evaluations and evaluate each new checkpoint '
                     '(0: evaluate the latest once).')
flags.DEFINE_integer('eval_timeout_secs', None,
                     'In loop mode, stop after this many seconds without a '
                     'new checkpoint (None: wait forever).')
common_flags.define_dataset_flags(split_name='test', batch_size=100)
common_flags.define_model_flags('eval_image_size')


def _check_flags():
  if FLAGS.quantize:
    raise UserError(
        '--quantize needs tf.contrib.quantize, which TensorFlow removed (2.0);'
        ' evaluate the float model, or export a quantized TFLite model with '
        'export_inference_graph.py --tflite_file instead.')
  if FLAGS.batch_size < 1:
    raise UserError('--batch_size must be positive, got %d' % FLAGS.batch_size)
  if FLAGS.max_num_batches is not None and FLAGS.max_num_batches < 1:
    raise UserError('--max_num_batches must be positive')


def _build_graph():
  """The eval graph; returns (dataset, init op, logits, labels, var_map)."""
  dataset = dataset_factory.get_dataset(FLAGS.dataset_name,
                                        FLAGS.dataset_split_name,
                                        FLAGS.dataset_dir)
  num_classes = dataset.num_classes - FLAGS.labels_offset
  network_fn = nets_factory.get_network_fn(FLAGS.model_name, num_classes,
                                           is_training=False)
  preprocessing_fn = preprocessing_factory.get_preprocessing(
      FLAGS.preprocessing_name or FLAGS.model_name, is_training=False,
      use_grayscale=FLAGS.use_grayscale)
  image_size = FLAGS.eval_image_size or network_fn.default_image_size
  tf.train.get_or_create_global_step()
  batches = pipeline.build_dataset(
      dataset, lambda image: preprocessing_fn(image, image_size, image_size),
      batch_size=FLAGS.batch_size, is_training=False,
      num_threads=FLAGS.num_preprocessing_threads,
      labels_offset=FLAGS.labels_offset)
  iterator = tf.data.make_initializable_iterator(batches)
  images, labels = iterator.get_next()
  logits, _ = network_fn(images)
  var_map = checkpoints.variables_to_restore(FLAGS.moving_average_decay)
  return dataset, iterator.initializer, logits, labels, var_map


def _evaluate_checkpoint(checkpoint_path, graph_parts):
  dataset, init_op, logits, labels, var_map = graph_parts
  saver = checkpoints.restorer(checkpoint_path, var_map)
  with tf.Session(FLAGS.master) as session:
    session.run(tf.local_variables_initializer())
    saver.restore(session, checkpoint_path)
    step = session.run(tf.train.get_global_step())
    log.info('Evaluating %s (step %d) on %s/%s', checkpoint_path, step,
             FLAGS.dataset_name, FLAGS.dataset_split_name)
    scores = evaluation.evaluate(session, init_op, logits, labels,
                                 logits.shape[-1], FLAGS.max_num_batches)
  if scores.count == 0:
    raise UserError('the split %s of %s has no examples to score' %
                    (FLAGS.dataset_split_name, FLAGS.dataset_dir))
  if FLAGS.max_num_batches is None and scores.count != dataset.num_samples:
    log.warning('Scored %d examples but the dataset declares %d for split %s',
                scores.count, dataset.num_samples, FLAGS.dataset_split_name)
  print(scores.report(dataset.labels_to_names), flush=True)
  evaluation.write_summaries(FLAGS.eval_dir, step, scores,
                             dataset.labels_to_names)
  return scores


def main(_):
  _check_flags()
  tf.disable_eager_execution()
  tf.gfile.MakeDirs(FLAGS.eval_dir)
  with tf.Graph().as_default():
    graph_parts = _build_graph()
    if FLAGS.eval_interval_secs > 0:
      if not tf.gfile.IsDirectory(FLAGS.checkpoint_path):
        raise UserError('--eval_interval_secs needs --checkpoint_path to be '
                        'a training folder, got %s' % FLAGS.checkpoint_path)
      evaluated = 0
      for path in tf.train.checkpoints_iterator(
          FLAGS.checkpoint_path, min_interval_secs=FLAGS.eval_interval_secs,
          timeout=FLAGS.eval_timeout_secs):
        _evaluate_checkpoint(path, graph_parts)
        evaluated += 1
      log.info('No new checkpoint for %s s: evaluated %d checkpoint(s); done',
               FLAGS.eval_timeout_secs, evaluated)
    else:
      _evaluate_checkpoint(checkpoints.resolve(FLAGS.checkpoint_path),
                           graph_parts)
  log.info('TensorBoard summaries in %s', FLAGS.eval_dir)


def run():
  """Console entry point."""
  run_main(main)


if __name__ == '__main__':
  run()
