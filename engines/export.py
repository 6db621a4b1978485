"""The export engine: `run(ExportConfig)` writes a network for inference.

Formats (names in engines/inference.py):
  * the inference GraphDef (no weights), as TF-Slim wrote it: reference
    variables (VariableV2), so that TensorFlow's freeze_graph tool freezes
    it with a checkpoint (it cannot read the resource variables TF2 makes by
    default), and research/slim's output op names;
  * with a checkpoint: the frozen GraphDef (weights as constants), a
    SavedModel for TensorFlow Serving and `tf.saved_model.load`, and a
    TFLite model with a `serving_default` signature (`images` ->
    `probabilities`) and its class names in a labels file beside it
    (`tflite_labels_path`): float, dynamic-range quantized
    (--tflite_quantize=dynamic) or full-integer (--tflite_quantize=int8,
    calibrated on images of a split; or --quantize, with the ranges of a
    quantization-aware checkpoint), with a `.metadata.json` beside an
    integer one (engines/tflite.py).

With --quantize every graph is the quantization-aware eval graph
(engines/quantization.py: batch norm folded, fake-quant ops with the
checkpoint's ranges), as research/slim exported it for the TFLite converter.

Every graph is float32 whatever --precision says (any TensorFlow loads
it; bf16 or float16 at run time is the loading session's graph rewrite).
--precision=fp16 gives the TFLite model float16 weights (about half the
size; computed in float32 where the hardware has no float16); bf16 is
refused for TFLite, which has no bfloat16 weights (ExportConfig.validate).

Every file is written under a temporary name and renamed into place, so a
failed export never leaves a half-written file where a good one was.
"""

import os
import shutil

import tensorflow.compat.v1 as tf
from tensorflow.python.util import deprecation

from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.core.files import write_atomically
from slimvision.datasets import dataset_factory
from slimvision.engines import checkpoints
from slimvision.engines import inference
from slimvision.engines import pipeline
from slimvision.engines import quantization
from slimvision.engines import tflite as tflite_lib
from slimvision.nets import nets_factory
from slimvision.preprocessing import preprocessing_factory


def run(config):
  """Writes every format `config` (an ExportConfig) asks for.

  Raises:
    UserError: a setting, checkpoint or output path the export cannot use.
  """
  config.validate()
  # Before any file is written: a refused --central_crop_fraction leaves none.
  inference.eval_preprocessing_options(config.preprocessing,
                                       config.central_crop_fraction)
  spec = nets_factory.model_spec(config.model_name)
  if config.quantize and config.tflite_file:
    _quantized_input_range(config)  # Before any file is written.
  is_video = config.is_video_model or spec.is_video
  if is_video and not config.num_frames:
    raise UserError('%s needs --num_frames (a positive count)' % (
        '--is_video_model' if config.is_video_model else
        config.model_name + ', a video model,'))
  if is_video and (config.saved_model_dir or config.tflite_file):
    raise UserError('--saved_model_dir and --tflite_file export image '
                    'classifiers; export a video model as a (frozen) graph')
  if config.precision in ('bf16', 'fp16'):
    log.info('--precision=%s: the exported graphs stay float32%s',
             config.precision, '; the TFLite model gets float16 weights'
             if config.precision == 'fp16' and config.tflite_file else '')
  exporter = _Exporter(config, is_video)
  checkpoint = (checkpoints.resolve(config.checkpoint_path)
                if config.checkpoint_path else None)
  frozen_file, graph_file = config.frozen_graph_file, config.output_file
  if checkpoint and not frozen_file:
    frozen_file, graph_file = graph_file, None
  # The TF1 export APIs each print a deprecation notice; they are the
  # supported way to write these formats from a graph.
  with deprecation.silence(), nets_factory.image_too_small_names_flag(
      '--image_size'):
    if graph_file:
      with tf.Graph().as_default() as graph:
        exporter.build_graph(reference_variables=True)
        exporter.write_graph_def(graph.as_graph_def(), graph_file)
    if checkpoint:
      frozen = exporter.freeze(checkpoint)
      if frozen_file:
        exporter.write_graph_def(frozen, frozen_file)
      if config.saved_model_dir:
        exporter.saved_model(checkpoint, config.saved_model_dir)
      if config.tflite_file:
        exporter.tflite(frozen, config.tflite_file)


def _quantized_input_range(config):
  """The float range of the integer model's input for --quantize: the
  range of the eval preprocessing's outputs (a quantization-aware graph
  has no range of its own for its input)."""
  value_range = preprocessing_factory.output_range(config.preprocessing)
  if value_range is None:
    raise UserError(
        '--quantize --tflite_file needs the range of the input images, and '
        'the %s preprocessing of %s has no fixed one; export the float '
        'checkpoint with --tflite_quantize=int8 --dataset_dir (calibrated) '
        'instead' % (preprocessing_factory.family(config.preprocessing),
                     config.preprocessing))
  return value_range


def num_classes(config):
  """--num_classes, or the dataset's class count minus --labels_offset."""
  if config.num_classes:
    return config.num_classes
  count = dataset_factory.num_classes(config.dataset_name,
                                      config.dataset_dir or None)
  return pipeline.classes_after_offset(config.dataset_name, count,
                                       config.labels_offset)


def _temporary(path):
  return '%s.tmp-%d' % (path.rstrip('/'), os.getpid())


def _make_parent(path):
  tf.gfile.MakeDirs(os.path.dirname(os.path.abspath(path)))


def _write_file(path, content):
  _make_parent(path)
  write_atomically(path, content)


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


class _Exporter(object):
  """The graphs and files of one export."""

  def __init__(self, config, is_video):
    self.config = config
    self.is_video = is_video
    self.num_classes = num_classes(config)
    self.image_size = config.image_size or nets_factory.get_network_fn(
        config.model_name, 1).default_image_size

  def _input_shape(self):
    config, size = self.config, self.image_size
    if self.is_video:
      return [config.batch_size, config.num_frames, size, size, 3]
    return [config.batch_size, size, size, 1 if config.use_grayscale else 3]

  def build_graph(self, reference_variables=False):
    """The network on the `input` placeholder in the default graph.

    Args:
      reference_variables: make VariableV2 variables instead of resource
        ones; same names, so the same checkpoints restore.

    Returns:
      (images placeholder, logits, probabilities); `self.output_names` is
      set to the names of every output op
      (inference.build_with_output_names).
    """
    images = tf.placeholder(tf.float32, self._input_shape(),
                            name=inference.INPUT_NAME)
    # Re-entering the root scope keeps every variable name; use_resource is
    # inherited by the network's own scopes. None: TF2's resource default.
    with tf.variable_scope(tf.get_variable_scope(), use_resource=(
        False if reference_variables else None)):
      logits, probabilities, self.output_names = (
          inference.build_with_output_names(
              images, self.config.model_name, self.num_classes,
              is_training=self.config.is_training))
      if self.config.quantize:
        # Inside the scope: ranges of the same variable kind as the rest.
        quantization.create_eval_graph(tf.get_default_graph())
    return images, logits, probabilities

  def write_graph_def(self, graph_def, path):
    """Writes a GraphDef (text with --write_text_graphdef) via a rename."""
    if self.config.write_text_graphdef:
      data = str(graph_def).encode('utf-8')
    else:
      data = graph_def.SerializeToString()
    _write_file(path, data)
    log.info('Wrote %s (%d nodes)', path, len(graph_def.node))

  def _restore(self, session, checkpoint):
    saver = checkpoints.restorer(checkpoint, checkpoints.variables_to_restore(
        self.config.moving_average_decay))
    saver.restore(session, checkpoint)

  def freeze(self, checkpoint):
    """The frozen inference GraphDef: the checkpoint's weights as constants,
    with our outputs and research/slim's (e.g. `.../Predictions/Reshape_1`)."""
    with tf.Graph().as_default() as graph:
      self.build_graph()
      with tf.Session(graph=graph) as session:
        self._restore(session, checkpoint)
        return tf.graph_util.convert_variables_to_constants(
            session, graph.as_graph_def(), self.output_names)

  def _outputs(self, logits, probabilities, names_table):
    index = tf.argmax(logits, axis=1)
    offset = tf.constant(self.config.labels_offset, tf.int64)
    return {
        'classes': tf.add(index, offset),
        'class_names': tf.gather(names_table, index),
        'probabilities': probabilities,
        'logits': logits,
    }

  def saved_model(self, checkpoint, path):
    """Writes the SavedModel with both signatures into folder `path`."""
    config = self.config
    signature_def = tf.saved_model.signature_def_utils.predict_signature_def
    labels = inference.load_labels(dataset_dir=config.dataset_dir or None)
    with tf.Graph().as_default() as graph:
      images, logits, probabilities = self.build_graph()
      names_table = tf.constant(
          inference.output_names(labels, self.num_classes,
                                 config.labels_offset),
          name=inference.CLASS_NAMES_TABLE)
      encoded = tf.placeholder(tf.string, [config.batch_size],
                               name='encoded_images')
      decoded = inference.preprocess_encoded(
          encoded, config.model_name, self.image_size,
          config.preprocessing_name, config.use_grayscale,
          config.central_crop_fraction)
      served = inference.build_logits_and_probabilities(
          decoded, config.model_name, self.num_classes,
          is_training=config.is_training, reuse=True)
      # Preprocessing may add image summaries inside the decoding loop; the
      # SavedModel is for serving, and such collection entries would break
      # loading it.
      graph.clear_collection(tf.GraphKeys.SUMMARIES)
      signatures = {
          inference.SERVING_SIGNATURE: signature_def(
              {inference.BYTES_INPUT: encoded},
              self._outputs(*served, names_table)),
          inference.IMAGES_SIGNATURE: signature_def(
              {inference.IMAGES_INPUT: images},
              self._outputs(logits, probabilities, names_table)),
      }
      _make_parent(path)
      tmp = _temporary(path)
      if os.path.exists(tmp):
        shutil.rmtree(tmp)
      try:
        with tf.Session(graph=graph) as session:
          self._restore(session, checkpoint)
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

  def tflite(self, frozen, path):
    """Converts the frozen graph to TFLite, with its labels beside it.

    The model has the signature `serving_default`: input `images`
    [batch, size, size, channels] (batch 1 unless --batch_size fixed it),
    preprocessed as `predict_images` takes them; output `probabilities`
    [batch, num_classes]. It is the model's only output, so
    `get_output_details()[0]` stays the probabilities, as before there was
    a signature (logits would come first: outputs are ordered by name).
    Both are float32, or int8/uint8 in an integer model, whose metadata
    (scale and zero point of each) goes to `tflite.metadata_path`. The
    labels file (`tflite.labels_path`) names output i on line i.
    """
    config = self.config
    model = self._convert_tflite(frozen)
    labels_path = tflite_lib.labels_path(path)
    names = self.class_names()
    written = [(model, path),
               (''.join(n + '\n' for n in names).encode('utf-8'),
                labels_path)]
    if config.integer_tflite:
      tflite_lib.check_integer(model)
      written.append((self._metadata(model, labels_path),
                      tflite_lib.metadata_path(path)))
    for data, destination in written:
      _write_file(destination, data)
    if config.integer_tflite:
      weights = ', full-integer %s from %s' % (
          config.tflite_io_type, 'the quantization-aware ranges'
          if config.quantize else 'calibration')
    elif config.tflite_quantize == 'dynamic':
      weights = ', dynamic-range quantized'
    elif config.precision == 'fp16':
      weights = ', float16 weights'
    else:
      weights = ''
    log.info('Wrote %s (%d bytes%s; signature %s: %s -> %s)', path,
             len(model), weights,
             inference.SERVING_SIGNATURE, inference.IMAGES_INPUT,
             inference.PROBABILITIES_NAME)
    log.info('Wrote %s (%d class names)', labels_path, len(names))
    if config.integer_tflite:
      details = tflite_lib.io_details(model)
      log.info('Wrote %s: input %s scale %g zero point %d, output %s scale '
               '%g zero point %d', tflite_lib.metadata_path(path),
               details['input']['dtype'], details['input']['scale'],
               details['input']['zero_point'], details['output']['dtype'],
               details['output']['scale'], details['output']['zero_point'])

  def _metadata(self, model, labels_path):
    config = self.config
    facts = {'model_name': config.model_name,
             'preprocessing': config.preprocessing,
             'labels': os.path.basename(labels_path)}
    if config.quantize:
      facts['ranges'] = 'quantization-aware checkpoint'
      input_range = _quantized_input_range(config)
    else:
      facts['ranges'] = 'calibrated on %d images of %s/%s' % (
          self.calibrated, config.dataset_name, config.dataset_split_name)
      input_range = None
    return tflite_lib.metadata(model, 'int8', input_range,
                               **facts).encode('utf-8')

  def class_names(self):
    """The class name of each model output, as the SavedModel's
    `class_names_table` has them."""
    labels = inference.load_labels(dataset_dir=self.config.dataset_dir or None)
    return inference.output_names(labels, self.num_classes,
                                  self.config.labels_offset)

  def _convert_tflite(self, frozen):
    """The .tflite bytes of the frozen GraphDef, converted with TF2's
    converter from a function whose argument names the signature input."""
    # TF1's TFLiteConverter.from_session writes no SignatureDef; TF2's
    # from_concrete_functions names the signature's inputs and outputs after
    # the function's arguments and returned keys. wrap_function imports the
    # frozen graph (constants only) as a function; prune picks its ends.
    wrapped = tf.wrap_function(
        lambda: tf.import_graph_def(frozen, name=''), [])
    graph = wrapped.graph
    placeholder = graph.get_tensor_by_name(inference.INPUT_NAME + ':0')
    network = wrapped.prune(placeholder, graph.get_tensor_by_name(
        inference.PROBABILITIES_NAME + ':0'))
    shape = placeholder.shape.as_list()
    if shape[0] is None:
      shape[0] = 1  # The TFLite interpreter allocates for a fixed batch.
    spec = tf.TensorSpec(shape, tf.float32, name=inference.IMAGES_INPUT)
    # A quantization-aware graph quantizes every tensor but its input: the
    # input's range is the preprocessing's.
    input_range = (_quantized_input_range(self.config)
                   if self.config.quantize else None)

    def serve(images):  # The signature's input: `images`, as in the spec.
      if input_range:
        images = tf.quantization.fake_quant_with_min_max_args(
            images, min=input_range[0], max=input_range[1])
      return {inference.PROBABILITIES_NAME: network(images)}
    function = tf.function(serve, input_signature=[spec])
    holder = tf.Module()  # Keeps what the function captures alive.
    holder.network = network
    # tf.compat.v1.lite's converter is TF1's (no from_concrete_functions).
    converter = tf.compat.v2.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], holder)
    config = self.config
    if config.integer_tflite:
      tflite_lib.configure_integer(
          converter, config.tflite_io_type,
          None if config.quantize else
          lambda: self._calibration_images(shape))
      return tflite_lib.convert_integer(converter)
    if config.tflite_quantize == 'dynamic':
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif config.precision == 'fp16':
      # Float16 weights, dequantized to float32 where the interpreter's
      # hardware has no float16 arithmetic.
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      converter.target_spec.supported_types = [tf.float16]
    return converter.convert()

  def _calibration_images(self, shape):
    """Yields --calibration_steps images [1, size, size, channels] of
    --dataset_split_name through the eval preprocessing, in file order
    (fewer if the split is smaller); sets `self.calibrated` to the count."""
    config = self.config
    dataset = dataset_factory.get_dataset(
        config.dataset_name, config.dataset_split_name, config.dataset_dir)
    preprocessing_fn = preprocessing_factory.get_preprocessing(
        config.preprocessing, is_training=False,
        use_grayscale=config.use_grayscale)
    options = inference.eval_preprocessing_options(
        config.preprocessing, config.central_crop_fraction)
    size = shape[1]

    def preprocess(image):
      return preprocessing_fn(image, size, size, **options)

    self.calibrated = 0
    with tf.Graph().as_default(), tf.Session() as session:
      batches = pipeline.build_dataset(
          dataset, preprocess, batch_size=1, is_training=False,
          encoded_images=pipeline.use_encoded_images(
              'partial', preprocessing_fn, dataset))
      images, _ = tf.data.make_one_shot_iterator(
          batches.take(config.calibration_steps)).get_next()
      while True:
        try:
          image = session.run(images)
        except tf.errors.OutOfRangeError:
          break
        self.calibrated += 1
        yield image
    if self.calibrated < config.calibration_steps:
      log.info('Calibrated on the %d images of %s/%s (fewer than '
               '--calibration_steps=%d)', self.calibrated,
               config.dataset_name, config.dataset_split_name,
               config.calibration_steps)
    if not self.calibrated:
      raise UserError('--dataset_split_name %s of %s has no images to '
                      'calibrate on' % (config.dataset_split_name,
                                        config.dataset_dir))


# Where the labels of a TFLite model go (engines/tflite.py).
tflite_labels_path = tflite_lib.labels_path
