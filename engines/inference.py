"""Inference: classifying image files (`classify(ClassifyConfig)`) and the
graphs that the export engine shares with it.

The graph maps encoded image files (JPEG, PNG, GIF, BMP bytes) through the
model's eval preprocessing and network to class probabilities, so the
exported models and the classify command preprocess exactly like
eval_image_classifier.py does.

The exported formats (export_inference_graph.py) and their names:
  * GraphDef / frozen GraphDef: float placeholder `input` [batch, size, size,
    channels] ([batch, frames, size, size, 3] for video models), outputs
    `logits` and `probabilities` [batch, num_classes], and the network's own
    output ops under research/slim's names (`classic_output_names`, e.g.
    `MobilenetV1/Predictions/Reshape_1`).
  * SavedModel (tag `serve`): signature `serving_default` takes
    `image_bytes` (string [batch] of encoded image files) and signature
    `predict_images` takes `images` (float [batch, size, size, channels],
    already preprocessed); both return `classes` (int64 [batch], dataset
    label ids), `class_names` (string [batch]), `probabilities` and `logits`
    ([batch, num_classes]). The constant `class_names_table` [num_classes]
    names every model output.
"""

import dataclasses
import io
import os

import numpy as np

from google.protobuf import text_format
from PIL import Image
import tensorflow.compat.v1 as tf
from tensorflow.python.util import deprecation

from slimvision.core import errors
from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.datasets import dataset_utils
from slimvision.datasets import image_folder
from slimvision.datasets import imagenet
from slimvision.engines import checkpoints
from slimvision.engines import tflite
from slimvision.engines import zoo
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory


def eval_preprocessing_options(preprocessing_name, central_crop_fraction):
  """Keyword arguments of the eval preprocessing set by the flags.

  Args:
    preprocessing_name: the preprocessing (or model) name.
    central_crop_fraction: --central_crop_fraction, or None for the
      preprocessing's own central crop.

  Returns:
    {} or {'central_fraction': central_crop_fraction}.

  Raises:
    UserError: the fraction is given for a preprocessing without a central
      crop (only the inception family has one).
  """
  if central_crop_fraction is None:
    return {}
  family = preprocessing_factory.family(preprocessing_name)
  if family != 'inception':
    raise UserError('--central_crop_fraction applies to the inception '
                    'preprocessing; %s uses the %s preprocessing' %
                    (preprocessing_name, family))
  return {'central_fraction': central_crop_fraction}


def preprocess_encoded(encoded, model_name, image_size=None,
                       preprocessing_name=None, use_grayscale=False,
                       central_crop_fraction=None):
  """Decodes and preprocesses a batch of encoded images.

  Args:
    encoded: string Tensor [batch] of image file bytes.
    model_name: network name (chooses the default size and preprocessing).
    image_size: side in pixels (default: the network's).
    preprocessing_name: overrides the model's preprocessing family.
    use_grayscale: one-channel input.
    central_crop_fraction: fraction of the height and width that the
      inception preprocessing's central crop keeps (None: its default).

  Returns:
    float32 Tensor [batch, size, size, 1 or 3].
  """
  size = image_size or nets_factory.get_network_fn(
      model_name, 1).default_image_size
  preprocess = preprocessing_factory.get_preprocessing(
      preprocessing_name or model_name, is_training=False,
      use_grayscale=use_grayscale)
  options = eval_preprocessing_options(preprocessing_name or model_name,
                                       central_crop_fraction)

  def one(image_bytes):
    image = tf.io.decode_image(image_bytes, channels=3,
                               expand_animations=False)
    image.set_shape([None, None, 3])
    return preprocess(image, size, size, **options)

  return tf.map_fn(one, encoded, fn_output_signature=tf.float32)


INPUT_NAME = 'input'
LOGITS_NAME = 'logits'
PROBABILITIES_NAME = 'probabilities'
CLASS_NAMES_TABLE = 'class_names_table'
SERVING_SIGNATURE = 'serving_default'
IMAGES_SIGNATURE = 'predict_images'
BYTES_INPUT = 'image_bytes'
IMAGES_INPUT = 'images'


def build_logits_and_probabilities(images, model_name, num_classes,
                                   is_training=False, reuse=None):
  """Network in inference mode; returns (logits, probabilities).

  Args:
    images: float Tensor [batch, size, size, channels] (video models:
      [batch, frames, size, size, 3]).
    model_name: network name.
    num_classes: logits width.
    is_training: build batch norm and dropout in training mode.
    reuse: True to share the variables of an earlier call in this graph.

  Returns:
    (logits, probabilities), float Tensors [batch, num_classes] named
    `logits` and `probabilities` (with a `_N` suffix after the first call).
  """
  logits, probabilities, _ = build_with_output_names(
      images, model_name, num_classes, is_training, reuse)
  return logits, probabilities


def build_with_output_names(images, model_name, num_classes,
                            is_training=False, reuse=None):
  """build_logits_and_probabilities(), and the names of every output op of
  the graph.

  Returns:
    (logits, probabilities, output op names): the names are `logits`,
    `probabilities` and the network's own ops for them as research/slim
    named them (`classic_output_names`), which graph tools such as
    freeze_graph are given.
  """
  network_fn = nets_factory.get_network_fn(model_name, num_classes,
                                           is_training=is_training)
  with tf.variable_scope(tf.get_variable_scope(), reuse=reuse):
    network_logits, end_points = network_fn(images)
  logits = tf.identity(network_logits, name=LOGITS_NAME)
  probabilities = tf.nn.softmax(logits, name=PROBABILITIES_NAME)
  names = [logits.op.name, probabilities.op.name]
  names += classic_output_names(network_logits, end_points)
  return logits, probabilities, names


def classic_output_names(logits, end_points):
  """The op names research/slim's graphs answer at, e.g.
  ['MobilenetV1/Logits/SpatialSqueeze', 'MobilenetV1/Predictions/Reshape_1'].

  Args:
    logits: the network's logits Tensor.
    end_points: its end points; the softmax is `Predictions` (`predictions`
      in the ResNets); VGG, AlexNet and OverFeat have none.
  """
  predictions = end_points.get('Predictions', end_points.get('predictions'))
  names = [logits.op.name]
  if predictions is not None and predictions.op.name not in names:
    names.append(predictions.op.name)
  return names


def output_names(labels, num_classes, labels_offset=0):
  """The class name of each model output i: the name of dataset label
  i + labels_offset in `labels` ({index: name} or None), else that label's
  number as text."""
  return [(labels or {}).get(i + labels_offset, str(i + labels_offset))
          for i in range(num_classes)]


def input_geometry(graph_def, with_batch=False):
  """(size, channels) of the `input` placeholder of an exported GraphDef;
  with_batch: (batch size or None, size, channels).

  Raises:
    UserError: no 4-D placeholder named `input` (not an exported image
      classifier graph).
  """
  for node in graph_def.node:
    if node.name == INPUT_NAME and node.op == 'Placeholder':
      dims = [d.size for d in node.attr['shape'].shape.dim]
      if len(dims) == 4 and dims[1] > 0 and dims[3] > 0:
        if with_batch:
          return (dims[0] if dims[0] > 0 else None), dims[1], dims[3]
        return dims[1], dims[3]
  raise UserError('the graph has no image placeholder named %r '
                  '[batch, size, size, channels]; was it written by '
                  'export_inference_graph.py?' % INPUT_NAME)


def read_graph_def(path, flag='--frozen_graph'):
  """A GraphDef from a binary (.pb) or text (.pbtxt) file.

  Raises:
    UserError: missing file, or neither format parses.
  """
  if not path or not tf.gfile.Exists(path):
    raise UserError('%s %s does not exist' % (flag, path))
  with tf.gfile.GFile(path, 'rb') as f:
    data = f.read()
  graph_def = tf.GraphDef()
  try:
    graph_def.ParseFromString(data)
    if graph_def.node:
      return graph_def
  except Exception:  # pylint: disable=broad-except
    pass
  try:
    return text_format.Parse(data.decode('utf-8'), tf.GraphDef())
  except Exception as e:  # pylint: disable=broad-except
    raise UserError('%s %s is not a GraphDef (binary or text): %s' %
                    (flag, path, str(e).splitlines()[0] if str(e) else e))


def frozen_graph_classifier(path, encoded, model_name, preprocessing_name=None,
                            central_crop_fraction=None):
  """Imports a frozen exported graph fed from encoded images.

  The images go through `preprocess_encoded` at the size and channel count
  of the graph's `input` placeholder.

  Returns:
    probabilities, float Tensor [batch, num_classes].
  """
  graph_def = read_graph_def(path)
  batch_size, size, channels = input_geometry(graph_def, with_batch=True)
  if any(node.op in ('VariableV2', 'VarHandleOp') for node in graph_def.node):
    raise UserError('%s holds variables: it is not frozen (export it with '
                    '--checkpoint_path)' % path)
  # A graph exported with --batch_size takes that many images at a time.
  encoded.set_shape([batch_size])
  images = preprocess_encoded(encoded, model_name, size, preprocessing_name,
                              use_grayscale=channels == 1,
                              central_crop_fraction=central_crop_fraction)
  probabilities, = tf.import_graph_def(
      graph_def, input_map={INPUT_NAME + ':0': images},
      return_elements=[PROBABILITIES_NAME + ':0'], name='frozen')
  return probabilities


def load_saved_model(session, export_dir):
  """Loads an exported SavedModel into the session's graph.

  Returns:
    (encoded image bytes placeholder, probabilities Tensor, names list or
    None): the `serving_default` signature and the class name of each
    output, read from the model's `class_names_table`.

  Raises:
    UserError: not a SavedModel, or one without that signature.
  """
  if not export_dir or not tf.saved_model.contains_saved_model(export_dir):
    raise UserError('--saved_model_dir %s holds no SavedModel' % export_dir)
  try:
    with deprecation.silence():  # The TF1 loader is the graph-mode one.
      meta_graph = tf.saved_model.loader.load(
          session, [tf.saved_model.tag_constants.SERVING], export_dir)
  except (tf.errors.OpError, OSError, ValueError, RuntimeError,
          IndexError) as e:
    # Truncated or foreign files: a short read, a bad checksum, a .pb that
    # does not parse.
    raise UserError('--saved_model_dir %s cannot be loaded: %s' % (
        export_dir, errors.tf_error_text(getattr(e, 'message', e))))
  signature = meta_graph.signature_def.get(SERVING_SIGNATURE)
  if (signature is None or BYTES_INPUT not in signature.inputs or
      PROBABILITIES_NAME not in signature.outputs):
    raise UserError('%s has no %s signature from %s to %s; was it written '
                    'by export_inference_graph.py?' % (
                        export_dir, SERVING_SIGNATURE, BYTES_INPUT,
                        PROBABILITIES_NAME))
  graph = session.graph
  encoded = graph.get_tensor_by_name(signature.inputs[BYTES_INPUT].name)
  probabilities = graph.get_tensor_by_name(
      signature.outputs[PROBABILITIES_NAME].name)
  names = None
  try:
    table = graph.get_tensor_by_name(CLASS_NAMES_TABLE + ':0')
    names = [n.decode('utf-8') for n in session.run(table)]
  except KeyError:
    pass
  return encoded, probabilities, names


# Formats TensorFlow's decode_image reads; other images (TIFF, PPM, ...)
# are handed to it re-encoded as PNG.
_TF_DECODES = ('JPEG', 'PNG', 'GIF', 'BMP', 'WEBP')
# Images per session.run when the model takes any number: bounded memory
# for a folder of large photos.
CLASSIFY_BATCH = 32


def expand_image_paths(paths):
  """`paths` with each folder replaced by its image files (sorted, by
  extension: image_folder.IMAGE_EXTENSIONS; not its sub-folders).

  Raises:
    UserError: a path that does not exist, or a folder without images.
  """
  expanded = []
  for path in paths:
    if os.path.isdir(path):
      images = sorted(
          os.path.join(path, name) for name in os.listdir(path)
          if name.lower().endswith(image_folder.IMAGE_EXTENSIONS) and
          not name.startswith('.') and
          os.path.isfile(os.path.join(path, name)))
      if not images:
        raise UserError('folder %s has no image files (%s)' % (
            path, ', '.join(image_folder.IMAGE_EXTENSIONS)))
      expanded += images
    elif os.path.isfile(path):
      expanded.append(path)
    else:
      raise UserError('image file %s does not exist' % path)
  return expanded


def _decodable_bytes(path):
  """The file's bytes, or a PNG of its image where TensorFlow cannot decode
  the format. Raises OSError/ValueError (PIL's) if it is no readable image;
  the image is decoded in full, so a truncated file fails too."""
  with open(path, 'rb') as f:
    data = f.read()
  with Image.open(io.BytesIO(data)) as image:
    image.load()
    if image.format in _TF_DECODES:
      return data
    if image.mode not in ('L', 'RGB', 'RGBA'):
      image = image.convert('RGBA' if 'A' in image.getbands() else 'RGB')
    buffer = io.BytesIO()
    image.save(buffer, format='PNG')
    return buffer.getvalue()


def read_image_files(paths, unreadable=None):
  """The bytes of the readable image files among `paths`.

  Args:
    paths: image file paths.
    unreadable: None: an unreadable file is a UserError. A list: each
      unreadable file is appended to it as (path, reason) and left out.

  Returns:
    (readable paths, their bytes): TensorFlow-decodable image files.

  Raises:
    UserError: a missing file, or (unreadable None) one that is no image.
  """
  readable, contents = [], []
  for path in paths:
    if not os.path.isfile(path):
      raise UserError('image file %s does not exist' % path)
    try:
      contents.append(_decodable_bytes(path))
      readable.append(path)
    except Exception as e:  # pylint: disable=broad-except
      # PIL raises many types for non-images.
      if unreadable is None:
        raise UserError('%s is not a readable image (%s)' % (path, e))
      unreadable.append((path, str(e) or type(e).__name__))
  return readable, contents


def _run_in_batches(session, probabilities, encoded, contents):
  """Probabilities [len(contents), num_classes] of the encoded images, fed
  CLASSIFY_BATCH at a time, or the model's fixed batch size (the last batch
  padded with its last image)."""
  fixed = encoded.shape.as_list()[0] if encoded.shape.rank == 1 else None
  size = fixed or CLASSIFY_BATCH
  rows = []
  for start in range(0, len(contents), size):
    chunk = contents[start:start + size]
    feed = chunk + chunk[-1:] * (size - len(chunk)) if fixed else chunk
    rows.append(session.run(probabilities, {encoded: feed})[:len(chunk)])
  return np.concatenate(rows)


def load_labels(labels_file=None, dataset_dir=None):
  """{index: name} from --labels_file or DATASET_DIR/labels.txt, or None."""
  if labels_file:
    if not os.path.isfile(labels_file):
      raise UserError('--labels_file %s does not exist' % labels_file)
    return dataset_utils.read_label_file(os.path.dirname(labels_file) or '.',
                                         os.path.basename(labels_file))
  if dataset_dir and dataset_utils.has_labels(dataset_dir):
    return dataset_utils.read_label_file(dataset_dir)
  return None


def _checkpoint_probabilities(config, encoded, labels):
  """Probabilities from the checkpoint model; returns (tensor, restore)."""
  num_classes = config.num_classes or (
      labels and max(labels) + 1 - config.labels_offset)
  if not num_classes:
    raise UserError('the number of classes is unknown: give --num_classes, '
                    '--labels_file or --dataset_dir with a labels.txt')
  checkpoint = checkpoints.resolve(config.checkpoint_path)
  images = preprocess_encoded(encoded, config.model_name, config.image_size,
                              config.preprocessing_name, config.use_grayscale,
                              config.central_crop_fraction)
  with nets_factory.image_too_small_names_flag('--image_size'):
    _, probabilities = build_logits_and_probabilities(
        images, config.model_name, num_classes)
  saver = checkpoints.restorer(checkpoint, checkpoints.variables_to_restore(
      config.moving_average_decay))
  return probabilities, lambda session: saver.restore(session, checkpoint)


def classify(config, unreadable=None):
  """Classifies `config.images` with the model `config` names.

  Args:
    config: a ClassifyConfig (exactly one of checkpoint_path,
      saved_model_dir, frozen_graph, tflite_file). A folder among its
      images stands for the image files in it.
    unreadable: None: a file that is no readable image is a UserError. A
      list: such files are appended to it as (path, reason) and left out.

  Returns:
    [(path, [(class name, probability), ...top_k])] in the order given.

  Raises:
    UserError: a bad setting, a missing file, or no readable image.
  """
  config.validate()
  source = config.model_source()
  labels = load_labels(config.labels_file, config.dataset_dir)
  if labels is None and source == 'checkpoint_path' and zoo.is_zoo(
      config.checkpoint_path):
    config, labels = _with_imagenet_names(config)
  paths, contents = read_image_files(expand_image_paths(config.images),
                                     unreadable)
  if not paths:
    raise _unreadable_error(unreadable, len(unreadable))
  if source == 'tflite_file':
    values, model_names = _tflite_probabilities(config, contents)
  else:
    values, model_names = _graph_probabilities(config, source, contents,
                                               labels)
  num_classes = values.shape[1]
  if labels or not model_names:
    names = output_names(labels, num_classes, config.labels_offset)
  else:
    names = model_names
  results = []
  for path, row in zip(paths, values):
    top = np.argsort(-row, kind='stable')[:config.top_k]
    results.append((path, [(names[i], float(row[i])) for i in top]))
  return results


def _with_imagenet_names(config):
  """(config, labels) for a model-zoo checkpoint given without labels: its
  class count, and ImageNet's names (a 1000-class checkpoint has no
  background output, so its outputs are labels 1-1000). Without the names
  (offline), the classes are numbered, with a warning."""
  _, entry = zoo.entry_of(config.checkpoint_path)
  if entry is None:
    return config, None  # Resolving the checkpoint names the valid ones.
  background = 1 if entry.num_classes == imagenet.NUM_SYNSETS else 0
  config = dataclasses.replace(
      config, num_classes=config.num_classes or entry.num_classes,
      labels_offset=config.labels_offset or background)
  try:
    return config, imagenet.create_readable_names_for_imagenet_labels(
        log=log.info)
  except dataset_utils.DatasetError as e:
    log.warning('Classes are numbered: %s', e)
    return config, None


def _graph_probabilities(config, source, contents, labels):
  """(probabilities [n, num_classes], class names or None) of the encoded
  images `contents` from a SavedModel, frozen graph or checkpoint."""
  model_names = None
  with tf.Graph().as_default(), tf.Session() as session:
    if source == 'saved_model_dir':
      encoded, probabilities, model_names = load_saved_model(
          session, config.saved_model_dir)
    else:
      encoded = tf.placeholder(tf.string, [None])
      if source == 'frozen_graph':
        probabilities = frozen_graph_classifier(
            config.frozen_graph, encoded, config.model_name,
            config.preprocessing_name, config.central_crop_fraction)
      else:
        probabilities, restore = _checkpoint_probabilities(config, encoded,
                                                           labels)
        restore(session)
    return (_run_in_batches(session, probabilities, encoded, contents),
            model_names)


def _tflite_probabilities(config, contents):
  """(probabilities [n, num_classes], class names or None) of the encoded
  images `contents` from --tflite_file: preprocessed as evaluation does, at
  the model's input size and channels; its names from the labels file
  export wrote beside it."""
  model = tflite.Model(config.tflite_file)
  if config.image_size and config.image_size != model.image_size:
    raise UserError('--image_size=%d, but --tflite_file %s takes %d px '
                    'images' % (config.image_size, config.tflite_file,
                                model.image_size))
  images = []
  with tf.Graph().as_default(), tf.Session() as session:
    encoded = tf.placeholder(tf.string, [None])
    preprocessed = preprocess_encoded(
        encoded, config.model_name, model.image_size,
        config.preprocessing_name, model.channels == 1,
        config.central_crop_fraction)
    for start in range(0, len(contents), CLASSIFY_BATCH):
      images.append(session.run(preprocessed, {
          encoded: contents[start:start + CLASSIFY_BATCH]}))
  names_file = tflite.labels_path(config.tflite_file)
  names = None
  if os.path.isfile(names_file):
    with open(names_file, encoding='utf-8') as f:
      names = [line.rstrip('\n') for line in f]
  return model.outputs(np.concatenate(images)), names


def _unreadable_error(unreadable, total, shown=3):
  """The UserError naming the (path, reason) pairs `unreadable` of `total`
  files (the first `shown` of them)."""
  text = ', '.join('%s (%s)' % item for item in unreadable[:shown])
  if len(unreadable) > shown:
    text += ' and %d more' % (len(unreadable) - shown)
  return UserError('%d of %d file(s) could not be read as images, so were '
                   'not classified: %s' % (len(unreadable), total, text))


def print_classes(config):
  """classify() and print each image's top classes; returns the results.

  Files that are no readable image are left out; after the others are
  printed, a UserError names them (so the command exits non-zero).
  """
  unreadable = []
  results = classify(config, unreadable)
  for path, top in results:
    print(path)
    for name, probability in top:
      print('  %-20s %.4f' % (name, probability))
  if unreadable:
    raise _unreadable_error(unreadable, len(unreadable) + len(results))
  return results
