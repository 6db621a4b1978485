r"""Exports a network for inference: GraphDef, frozen graph, SavedModel, TFLite.

Usage:
  # The inference GraphDef alone (no weights), as TF-Slim wrote it:
  python export_inference_graph.py --model_name=inception_v3 \
      --output_file=/tmp/inception_v3_inf_graph.pb

  # With a checkpoint: the frozen graph, a SavedModel for TensorFlow Serving
  # and a TFLite model in one run.
  python export_inference_graph.py --model_name=cifarnet \
      --dataset_name=shapes --dataset_dir=/tmp/shapes \
      --checkpoint_path=/tmp/train --frozen_graph_file=/tmp/frozen.pb \
      --saved_model_dir=/tmp/serving/cifarnet/1 --tflite_file=/tmp/m.tflite

The GraphDef has a float placeholder `input` [batch, size, size, channels]
(video models: [batch, num_frames, size, size, 3]) and the outputs `logits`
and `probabilities`. The SavedModel's `serving_default` signature takes
encoded image files (string [batch], key `image_bytes`) and applies the
model's eval preprocessing; `predict_images` takes preprocessed float images
(key `images`). Both return `classes`, `class_names`, `probabilities` and
`logits` (see core/inference.py). Every file is written under a temporary
name and renamed into place.
"""

if __name__ == '__main__' and not __package__:
  import _checkout  # noqa: F401  (run from a source checkout)

import importlib
import os
import shutil

from absl import flags
import tensorflow.compat.v1 as tf
from tensorflow.python.util import deprecation

from slimvision.core import checkpoints
from slimvision.core import inference
from slimvision.core import log
from slimvision.core.errors import UserError, run_main
from slimvision.datasets import dataset_factory
from slimvision.datasets import dataset_utils
from slimvision.nets import nets_factory

FLAGS = flags.FLAGS

flags.DEFINE_string('model_name', 'inception_v3',
                    'The name of the architecture to save.')
flags.DEFINE_boolean('is_training', False,
                     'Whether to save out a training-focused version of the '
                     'model.')
flags.DEFINE_integer('image_size', None,
                     'The image size to use, otherwise use the model '
                     'default_image_size.')
flags.DEFINE_integer('batch_size', None,
                     'Batch size for the exported model. Defaulted to "None" '
                     'so batch size can be specified at model runtime.')
flags.DEFINE_string('dataset_name', 'imagenet',
                    'The name of the dataset to use with the model.')
flags.DEFINE_integer('labels_offset', 0,
                     'An offset for the labels in the dataset. This flag is '
                     'primarily used to evaluate the VGG and ResNet '
                     'architectures which do not use a background class for '
                     'the ImageNet dataset.')
flags.DEFINE_string('output_file', '',
                    'Where to save the resulting file to. With '
                    '--checkpoint_path and no --frozen_graph_file, the frozen '
                    'graph goes here.')
flags.DEFINE_string('dataset_dir', '',
                    'Directory to save intermediate dataset files to (its '
                    'labels.txt names the classes of the SavedModel).')
flags.DEFINE_bool('quantize', False,
                  'whether to use quantized graph or not (needs '
                  'tf.contrib.quantize, which TensorFlow removed).')
flags.DEFINE_bool('is_video_model', False, 'whether to use 5-D inputs for '
                  'video model.')
flags.DEFINE_integer('num_frames', None,
                     'The number of frames to use. Only used if '
                     'is_video_model is True.')
flags.DEFINE_bool('write_text_graphdef', False,
                  'Whether to write a text version of graphdef.')
flags.DEFINE_bool('use_grayscale', False,
                  'Whether to convert input images to grayscale.')
flags.DEFINE_integer('num_classes', None,
                     'Number of model outputs (default: the dataset\'s '
                     'classes minus --labels_offset).')
flags.DEFINE_string('preprocessing_name', None,
                    'Preprocessing of the SavedModel\'s serving_default '
                    'signature (default: the model\'s).')
flags.DEFINE_string('checkpoint_path', None,
                    'A checkpoint file or training folder whose weights the '
                    'frozen graph, SavedModel and TFLite model get.')
flags.DEFINE_float('moving_average_decay', None,
                   'Restore the moving averages of the weights (the decay '
                   'the model was trained with).')
flags.DEFINE_string('frozen_graph_file', None,
                    'Write the graph with the checkpoint\'s weights as '
                    'constants here.')
flags.DEFINE_string('saved_model_dir', None,
                    'Export a SavedModel (TensorFlow Serving, '
                    'tf.saved_model.load) into this folder.')
flags.DEFINE_string('tflite_file', None, 'Write a TFLite model here.')
flags.DEFINE_bool('tflite_quantize', False,
                  'Post-training dynamic-range quantization of the TFLite '
                  'model (8-bit weights).')


def _check_flags():
  if FLAGS.quantize:
    raise UserError(
        '--quantize needs tf.contrib.quantize, which TensorFlow removed (2.0);'
        ' export a quantized TFLite model with --tflite_file '
        '--tflite_quantize instead.')
  nets_factory.get_network_fn(FLAGS.model_name, 1)  # Unknown name: UserError.
  if FLAGS.batch_size is not None and FLAGS.batch_size < 1:
    raise UserError('--batch_size must be positive, got %d' % FLAGS.batch_size)
  if FLAGS.image_size is not None and FLAGS.image_size < 1:
    raise UserError('--image_size must be positive, got %d' % FLAGS.image_size)
  if FLAGS.is_video_model and not (FLAGS.num_frames and FLAGS.num_frames > 0):
    raise UserError('--is_video_model needs --num_frames (a positive count)')
  if not (FLAGS.output_file or FLAGS.frozen_graph_file or
          FLAGS.saved_model_dir or FLAGS.tflite_file):
    raise UserError('nothing to export: give --output_file (and with '
                    '--checkpoint_path: --frozen_graph_file, '
                    '--saved_model_dir, --tflite_file)')
  needs_weights = [f for f in ('frozen_graph_file', 'saved_model_dir',
                               'tflite_file') if getattr(FLAGS, f)]
  if needs_weights and not FLAGS.checkpoint_path:
    raise UserError('--%s needs --checkpoint_path (the weights to export)' %
                    needs_weights[0])
  if FLAGS.is_video_model and (FLAGS.saved_model_dir or FLAGS.tflite_file):
    raise UserError('--saved_model_dir and --tflite_file export image '
                    'classifiers; export a video model as a (frozen) graph')
  if FLAGS.num_classes is not None and FLAGS.num_classes < 1:
    raise UserError('--num_classes must be positive')


def _num_classes():
  """--num_classes, or the dataset's class count minus --labels_offset."""
  if FLAGS.num_classes:
    return FLAGS.num_classes
  if not FLAGS.dataset_dir and FLAGS.dataset_name in (
      dataset_factory.dataset_names()):
    # TF-Slim exported e.g. imagenet models without the data at hand.
    module = importlib.import_module('slimvision.datasets.' +
                                     FLAGS.dataset_name)
    if hasattr(module, 'NUM_CLASSES'):
      return module.NUM_CLASSES - FLAGS.labels_offset
  split = 'train'
  spec = (dataset_utils.read_spec(FLAGS.dataset_dir)
          if FLAGS.dataset_dir and os.path.isdir(FLAGS.dataset_dir) else None)
  if spec and spec.get('splits') and 'train' not in spec['splits']:
    split = sorted(spec['splits'])[0]
  dataset = dataset_factory.get_dataset(FLAGS.dataset_name, split,
                                        FLAGS.dataset_dir or None)
  num_classes = dataset.num_classes - FLAGS.labels_offset
  if num_classes < 1:
    raise UserError('--labels_offset %d leaves no classes of the %d in %s' %
                    (FLAGS.labels_offset, dataset.num_classes,
                     FLAGS.dataset_name))
  return num_classes


def _image_size():
  return FLAGS.image_size or nets_factory.get_network_fn(
      FLAGS.model_name, 1).default_image_size


def _input_shape():
  size = _image_size()
  if FLAGS.is_video_model:
    return [FLAGS.batch_size, FLAGS.num_frames, size, size, 3]
  return [FLAGS.batch_size, size, size, 1 if FLAGS.use_grayscale else 3]


def _class_names(num_classes):
  labels = inference.load_labels(dataset_dir=FLAGS.dataset_dir or None)
  return inference.output_names(labels, num_classes, FLAGS.labels_offset)


# ----------------------------------------------------------------------------
# Writing through temporary names.


def _temporary(path):
  return '%s.tmp-%d' % (path.rstrip('/'), os.getpid())


def _make_parent(path):
  parent = os.path.dirname(os.path.abspath(path))
  tf.gfile.MakeDirs(parent)


def _write_graph_def(graph_def, path):
  """Writes a GraphDef (text with --write_text_graphdef) via a rename."""
  _make_parent(path)
  tmp = _temporary(path)
  if FLAGS.write_text_graphdef:
    data = str(graph_def).encode('utf-8')
  else:
    data = graph_def.SerializeToString()
  with tf.gfile.GFile(tmp, 'wb') as f:
    f.write(data)
  tf.gfile.Rename(tmp, path, overwrite=True)
  log.info('Wrote %s (%d nodes)', path, len(graph_def.node))


def _replace_folder(tmp, path):
  """Moves folder tmp to path; an earlier SavedModel there is replaced."""
  if os.path.exists(path):
    if os.listdir(path) and not tf.saved_model.contains_saved_model(path):
      shutil.rmtree(tmp)
      raise UserError('--saved_model_dir %s exists and is not a SavedModel; '
                      'choose an empty or new folder' % path)
    old = _temporary(path) + '.old'
    os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old)
  else:
    os.rename(tmp, path)


# ----------------------------------------------------------------------------
# The exports.


def _build_graph(num_classes):
  """The inference graph on the `input` placeholder; returns its parts."""
  images = tf.placeholder(tf.float32, _input_shape(), name=inference.INPUT_NAME)
  logits, probabilities = inference.build_classifier(
      images, FLAGS.model_name, num_classes, is_training=FLAGS.is_training)
  return images, logits, probabilities


def _restore(session, checkpoint):
  saver = checkpoints.restorer(
      checkpoint, checkpoints.variables_to_restore(FLAGS.moving_average_decay))
  saver.restore(session, checkpoint)


def _freeze(checkpoint, num_classes):
  """The frozen inference GraphDef: the checkpoint's weights as constants."""
  with tf.Graph().as_default() as graph:
    _build_graph(num_classes)
    with tf.Session(graph=graph) as session:
      _restore(session, checkpoint)
      return tf.graph_util.convert_variables_to_constants(
          session, graph.as_graph_def(),
          [inference.LOGITS_NAME, inference.PROBABILITIES_NAME])


def _outputs(logits, probabilities, names_table):
  index = tf.argmax(logits, axis=1)
  return {
      'classes': tf.add(index, tf.constant(FLAGS.labels_offset, tf.int64)),
      'class_names': tf.gather(names_table, index),
      'probabilities': probabilities,
      'logits': logits,
  }


def _export_saved_model(checkpoint, num_classes, path):
  """Writes the SavedModel with both signatures into folder `path`."""
  signature_def = tf.saved_model.signature_def_utils.predict_signature_def
  with tf.Graph().as_default() as graph:
    images, logits, probabilities = _build_graph(num_classes)
    names_table = tf.constant(_class_names(num_classes),
                              name=inference.CLASS_NAMES_TABLE)
    encoded = tf.placeholder(tf.string, [FLAGS.batch_size],
                             name='encoded_images')
    decoded = inference.preprocess_encoded(
        encoded, FLAGS.model_name, _image_size(), FLAGS.preprocessing_name,
        FLAGS.use_grayscale)
    served_logits, served_probabilities = inference.build_classifier(
        decoded, FLAGS.model_name, num_classes,
        is_training=FLAGS.is_training, reuse=True)
    # Preprocessing may add image summaries inside the decoding loop; the
    # SavedModel is for serving, and such collection entries would break
    # loading it.
    graph.clear_collection(tf.GraphKeys.SUMMARIES)
    signatures = {
        inference.SERVING_SIGNATURE: signature_def(
            {inference.BYTES_INPUT: encoded},
            _outputs(served_logits, served_probabilities, names_table)),
        inference.IMAGES_SIGNATURE: signature_def(
            {inference.IMAGES_INPUT: images},
            _outputs(logits, probabilities, names_table)),
    }
    _make_parent(path)
    tmp = _temporary(path)
    if os.path.exists(tmp):
      shutil.rmtree(tmp)
    try:
      with tf.Session(graph=graph) as session:
        _restore(session, checkpoint)
        builder = tf.saved_model.Builder(tmp)
        builder.add_meta_graph_and_variables(
            session, [tf.saved_model.tag_constants.SERVING],
            signature_def_map=signatures, strip_default_attrs=True)
        builder.save()
    except BaseException:
      if os.path.exists(tmp):
        shutil.rmtree(tmp)
      raise
  _replace_folder(tmp, path)
  log.info('Wrote SavedModel %s (signatures %s, %s)', path,
           inference.SERVING_SIGNATURE, inference.IMAGES_SIGNATURE)


def _export_tflite(frozen, path):
  """Converts the frozen float graph to TFLite (batch 1 if unspecified)."""
  with tf.Graph().as_default() as graph:
    images, probabilities = tf.import_graph_def(
        frozen, return_elements=[inference.INPUT_NAME + ':0',
                                 inference.PROBABILITIES_NAME + ':0'],
        name='')
    if images.shape[0] is None:
      images.set_shape([1] + images.shape.as_list()[1:])
    with tf.Session(graph=graph) as session:
      converter = tf.lite.TFLiteConverter.from_session(
          session, [images], [probabilities])
      if FLAGS.tflite_quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
      model = converter.convert()
  _make_parent(path)
  tmp = _temporary(path)
  with tf.gfile.GFile(tmp, 'wb') as f:
    f.write(model)
  tf.gfile.Rename(tmp, path, overwrite=True)
  log.info('Wrote %s (%d bytes%s)', path, len(model),
           ', dynamic-range quantized' if FLAGS.tflite_quantize else '')


def main(_):
  _check_flags()
  tf.disable_eager_execution()
  # The TF1 export APIs each print a deprecation notice; they are the
  # supported way to write these formats from a graph, so keep the log short.
  with deprecation.silence():
    _export()


def _export():
  """Writes every requested format."""
  num_classes = _num_classes()
  checkpoint = (checkpoints.resolve(FLAGS.checkpoint_path)
                if FLAGS.checkpoint_path else None)
  frozen_file = FLAGS.frozen_graph_file
  graph_file = FLAGS.output_file
  if checkpoint and not frozen_file:
    frozen_file, graph_file = graph_file, None
  if graph_file:
    with tf.Graph().as_default() as graph:
      _build_graph(num_classes)
      _write_graph_def(graph.as_graph_def(), graph_file)
  if checkpoint:
    frozen = _freeze(checkpoint, num_classes)
    if frozen_file:
      _write_graph_def(frozen, frozen_file)
    if FLAGS.saved_model_dir:
      _export_saved_model(checkpoint, num_classes, FLAGS.saved_model_dir)
    if FLAGS.tflite_file:
      _export_tflite(frozen, FLAGS.tflite_file)


def run():
  """Console entry point."""
  run_main(main)


if __name__ == '__main__':
  run()
