"""Typed run configurations: what each engine is asked to do.

One dataclass per command. A field's name is its command-line flag's name
and its default is that flag's default for that command (TF-Slim's names
and defaults), so `cli.flags` defines the flags of a command from its
config class and builds the config from the parsed flags; tests and library
users build configs directly. `validate()` checks a config before any graph
is built and raises a UserError naming the flag at fault.
"""

import dataclasses
import json
import os
from typing import List, Optional

from slimvision.core.errors import UserError

OPTIMIZERS = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum', 'rmsprop',
              'sgd')
DECAY_TYPES = ('exponential', 'fixed', 'polynomial', 'cosine')
PRECISIONS = ('fp32', 'bf16', 'fp16', 'auto')
JPEG_DECODES = ('partial', 'whole')
# --tflite_quantize: none (float), dynamic (int8 weights, float activations),
# int8 (every op integer, calibrated on --dataset_dir).
TFLITE_QUANTIZE = ('none', 'dynamic', 'int8')
# The type of an integer TFLite model's input and output tensors.
TFLITE_IO_TYPES = ('int8', 'uint8')


def _positive(flag, value, allow_none=True):
  if value is None and allow_none:
    return
  if value is None or value < 1:
    raise UserError('--%s must be positive, got %s' % (flag, value))


def _not_negative(flag, value):
  if value < 0:
    raise UserError('--%s must be 0 or more, got %s' % (flag, value))


def _local(path):
  """Whether `path` is on this machine's file system (not gs://, s3://)."""
  return bool(path) and '://' not in path


def _under_a_folder(flag, path):
  """Raises UserError when an ancestor of `path` is a file, so nothing can
  be written there."""
  parent = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(parent):
    parent = os.path.dirname(parent)
  if not os.path.isdir(parent):
    raise UserError('--%s %s cannot be written: %s is a file, not a folder'
                    % (flag, path, parent))


def _output_file(flag, path):
  """Checks a file the command will write: not a folder, not under a
  file."""
  if not _local(path):
    return
  if os.path.isdir(path):
    raise UserError('--%s %s is a folder; give the name of the file to '
                    'write' % (flag, path))
  _under_a_folder(flag, path)


def _output_folder(flag, path):
  """Checks a folder the command will write into: not a file, not under a
  file."""
  if not _local(path):
    return
  if os.path.exists(path) and not os.path.isdir(path):
    raise UserError('--%s %s is a file, not a folder' % (flag, path))
  _under_a_folder(flag, path)


def _in_interval(flag, value, interval):
  """Raises UserError unless `value` (None passes) lies in `interval`,
  written as in the message: '[0, 1)', '(0, inf)', '(-inf, 0]'."""
  if value is None:
    return
  low, high = (float(bound) for bound in interval[1:-1].split(','))
  above = value > low if interval[0] == '(' else value >= low
  below = value < high if interval[-1] == ')' else value <= high
  if not (above and below):
    raise UserError('--%s must be in %s, got %g' % (flag, interval, value))


# The numeric training flags and the values that make sense for each (as in
# TensorFlow's optimizers, which otherwise fail deep inside the graph or, as
# a negative weight decay or decay period, train on nonsense).
_TRAIN_INTERVALS = (
    ('weight_decay', '[0, inf)'), ('label_smoothing', '[0, 1)'),
    ('batch_norm_decay', '[0, 1)'), ('min_crop_area', '(0, 1]'),
    ('moving_average_decay', '(0, 1)'),
    ('learning_rate', '(0, inf)'), ('end_learning_rate', '[0, inf)'),
    ('learning_rate_decay_factor', '(0, inf)'),
    ('num_epochs_per_decay', '(0, inf)'), ('warmup_epochs', '[0, inf)'),
    ('momentum', '[0, 1)'), ('rmsprop_momentum', '[0, 1)'),
    ('rmsprop_decay', '[0, 1)'), ('adadelta_rho', '[0, 1)'),
    ('adam_beta1', '[0, 1)'), ('adam_beta2', '[0, 1)'),
    ('opt_epsilon', '(0, inf)'),
    ('adagrad_initial_accumulator_value', '(0, inf)'),
    ('ftrl_initial_accumulator_value', '[0, inf)'),
    ('ftrl_learning_rate_power', '(-inf, 0]'),
    ('ftrl_l1', '[0, inf)'), ('ftrl_l2', '[0, inf)'),
)


def _check_precision(precision):
  if precision not in PRECISIONS:
    raise UserError('Unknown --precision %r; valid: %s' %
                    (precision, ', '.join(PRECISIONS)))


def _tflite_file(path, flag='--tflite_file'):
  """Raises UserError unless `path` is an existing file (a model to read)."""
  if not os.path.isfile(path):
    raise UserError('%s %s does not exist (a .tflite model written by '
                    'export_inference_graph.py --tflite_file)' % (flag, path))


@dataclasses.dataclass(kw_only=True)
class _Data:
  """The dataset, split and batching."""
  dataset_name: str = 'imagenet'
  dataset_split_name: str = 'train'
  dataset_dir: Optional[str] = None
  labels_offset: int = 0
  batch_size: int = 32
  num_preprocessing_threads: int = 4
  skip_corrupt_records: bool = False
  jpeg_decode: str = 'partial'
  # Thread pools of TensorFlow's ops (0: one thread per core).
  intra_op_threads: int = 0
  inter_op_threads: int = 0

  def _require_dataset_dir(self):
    """Last of the checks: before TensorFlow loads, and before the split is
    looked up (evaluation's default split, 'test', is not every
    dataset's)."""
    if not self.dataset_dir:
      raise UserError('--dataset_dir is required: the folder that holds '
                      'the converted TFRecord files')

  def _validate_data(self):
    _positive('batch_size', self.batch_size, allow_none=False)
    _not_negative('labels_offset', self.labels_offset)
    _positive('num_preprocessing_threads', self.num_preprocessing_threads,
              allow_none=False)
    _not_negative('intra_op_threads', self.intra_op_threads)
    _not_negative('inter_op_threads', self.inter_op_threads)
    if self.jpeg_decode not in JPEG_DECODES:
      raise UserError('Unknown --jpeg_decode %r; valid: %s' %
                      (self.jpeg_decode, ', '.join(JPEG_DECODES)))


@dataclasses.dataclass(kw_only=True)
class _Model:
  """The network and its input."""
  model_name: str = 'inception_v3'
  preprocessing_name: Optional[str] = None
  use_grayscale: bool = False
  moving_average_decay: Optional[float] = None

  @property
  def preprocessing(self):
    """The preprocessing (or model) name that selects the input functions."""
    return self.preprocessing_name or self.model_name


@dataclasses.dataclass(kw_only=True)
class TrainConfig(_Model, _Data):
  """train_image_classifier.py: see engines/training.py."""
  train_dir: str = '/tmp/tfmodel/'
  train_image_size: Optional[int] = None
  max_number_of_steps: Optional[int] = None
  seed: Optional[int] = None
  # Fine-tuning.
  checkpoint_path: Optional[str] = None
  checkpoint_exclude_scopes: Optional[str] = None
  trainable_scopes: Optional[str] = None
  ignore_missing_vars: bool = False
  freeze_batch_norm_statistics: bool = False
  # Model and loss.
  weight_decay: float = 0.00004
  batch_norm_decay: Optional[float] = None
  label_smoothing: float = 0.0
  quantize_delay: int = -1
  # Augmentation (inception preprocessing).
  min_crop_area: Optional[float] = None
  color_distortion: bool = True
  random_rotate_90: bool = False
  # Optimizer.
  optimizer: str = 'rmsprop'
  adadelta_rho: float = 0.95
  adagrad_initial_accumulator_value: float = 0.1
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  opt_epsilon: float = 1.0
  ftrl_learning_rate_power: float = -0.5
  ftrl_initial_accumulator_value: float = 0.1
  ftrl_l1: float = 0.0
  ftrl_l2: float = 0.0
  momentum: float = 0.9
  rmsprop_momentum: float = 0.9
  rmsprop_decay: float = 0.9
  # Learning rate.
  learning_rate_decay_type: str = 'exponential'
  learning_rate: float = 0.01
  end_learning_rate: float = 0.0001
  learning_rate_decay_factor: float = 0.94
  num_epochs_per_decay: float = 2.0
  warmup_epochs: float = 0
  # Arithmetic (variables and checkpoints are float32 whatever it is).
  precision: str = 'auto'
  # Input, logging and checkpoints.
  num_readers: int = 4
  image_cache_mb: int = 0
  log_every_n_steps: int = 10
  save_summaries_secs: int = 600
  save_summaries_steps: Optional[int] = None
  save_interval_secs: int = 600
  # Clones, replicas and the cluster.
  num_clones: int = 1
  clone_on_cpu: bool = False
  master: str = ''
  task: int = 0
  worker_replicas: int = 1
  num_ps_tasks: int = 0
  ps_hosts: str = ''
  worker_hosts: str = ''
  job_name: str = ''
  sync_replicas: bool = False
  replicas_to_aggregate: int = 1

  def validate(self):
    """Raises UserError for a setting the training cannot honour."""
    self._validate_data()
    if self.quantize_delay < -1:
      raise UserError('--quantize_delay must be -1 (no quantization-aware '
                      'training) or a step count (0: from the start), got %d'
                      % self.quantize_delay)
    _output_folder('train_dir', self.train_dir)
    _not_negative('image_cache_mb', self.image_cache_mb)
    _positive('train_image_size', self.train_image_size)
    _positive('num_readers', self.num_readers, allow_none=False)
    for flag, interval in _TRAIN_INTERVALS:
      _in_interval(flag, getattr(self, flag), interval)
    _positive('num_clones', self.num_clones, allow_none=False)
    _positive('max_number_of_steps', self.max_number_of_steps)
    _positive('save_summaries_steps', self.save_summaries_steps)
    _not_negative('save_summaries_secs', self.save_summaries_secs)
    _not_negative('save_interval_secs', self.save_interval_secs)
    if (self.learning_rate_decay_type == 'cosine' and
        not self.max_number_of_steps):
      raise UserError('--learning_rate_decay_type=cosine needs '
                      '--max_number_of_steps (the end of the schedule)')
    if self.batch_size % self.num_clones:
      raise UserError('--batch_size=%d is not divisible by --num_clones=%d' %
                      (self.batch_size, self.num_clones))
    if self.optimizer not in OPTIMIZERS:
      raise UserError('Unknown --optimizer %r; valid: %s' %
                      (self.optimizer, ', '.join(OPTIMIZERS)))
    if not self._is_parameter_server():  # A ps task reads no data.
      self._require_dataset_dir()

  def _is_parameter_server(self):
    """Whether --job_name or $TF_CONFIG makes this a ps task (a TF_CONFIG
    that does not parse is left to engines/cluster.py to report)."""
    if self.job_name == 'ps':
      return True
    try:
      task = json.loads(os.environ.get('TF_CONFIG') or '{}').get('task', {})
      return task.get('type') == 'ps'
    except (ValueError, AttributeError):
      return True
    if self.learning_rate_decay_type not in DECAY_TYPES:
      raise UserError('Unknown --learning_rate_decay_type %r; valid: %s' %
                      (self.learning_rate_decay_type, ', '.join(DECAY_TYPES)))
    if self.sync_replicas and self.replicas_to_aggregate < 1:
      raise UserError('--replicas_to_aggregate must be at least 1')
    _check_precision(self.precision)

  def augmentation(self):
    """Keyword arguments of the training preprocessing set by the flags."""
    options = {}
    if self.min_crop_area is not None:
      options['min_crop_area'] = self.min_crop_area
    if not self.color_distortion:
      options['color_distortion'] = False
    if self.random_rotate_90:
      options['random_rotate_90'] = True
    return options


@dataclasses.dataclass(kw_only=True)
class EvalConfig(_Model, _Data):
  """eval_image_classifier.py: see engines/evaluation.py."""
  dataset_split_name: str = 'test'
  batch_size: int = 100
  checkpoint_path: Optional[str] = '/tmp/tfmodel/'
  eval_dir: str = '/tmp/tfmodel/'
  eval_image_size: Optional[int] = None
  central_crop_fraction: Optional[float] = None
  max_num_batches: Optional[int] = None
  eval_interval_secs: int = 0
  eval_timeout_secs: Optional[int] = None
  master: str = ''
  quantize: bool = False
  # Score this TFLite model instead of a checkpoint.
  tflite_file: Optional[str] = None
  precision: str = 'auto'

  def validate(self):
    self._validate_data()
    if self.tflite_file:
      if self.quantize:
        raise UserError('--quantize builds the quantization-aware graph of a '
                        'checkpoint; a --tflite_file is scored as it is: '
                        'give one of them')
      if self.eval_interval_secs > 0:
        raise UserError('--eval_interval_secs watches a training folder for '
                        'checkpoints; a --tflite_file is scored once')
      _tflite_file(self.tflite_file)
    _output_folder('eval_dir', self.eval_dir)
    _positive('max_num_batches', self.max_num_batches)
    _positive('eval_image_size', self.eval_image_size)
    _in_interval('central_crop_fraction', self.central_crop_fraction, '(0, 1]')
    _check_precision(self.precision)
    self._require_dataset_dir()


@dataclasses.dataclass(kw_only=True)
class ExportConfig(_Model):
  """export_inference_graph.py: see engines/export.py."""
  dataset_name: str = 'imagenet'
  dataset_dir: Optional[str] = None
  labels_offset: int = 0
  num_classes: Optional[int] = None
  checkpoint_path: Optional[str] = None
  image_size: Optional[int] = None
  central_crop_fraction: Optional[float] = None
  batch_size: Optional[int] = None
  is_training: bool = False
  is_video_model: bool = False
  num_frames: Optional[int] = None
  output_file: str = ''
  write_text_graphdef: bool = False
  frozen_graph_file: Optional[str] = None
  saved_model_dir: Optional[str] = None
  tflite_file: Optional[str] = None
  tflite_quantize: str = 'none'
  tflite_io_type: str = 'int8'
  # Calibration of --tflite_quantize=int8: images of this split.
  dataset_split_name: str = 'train'
  calibration_steps: int = 1000
  quantize: bool = False
  precision: str = 'auto'

  @property
  def integer_tflite(self):
    """Whether the TFLite model is full-integer: calibrated (int8) or from
    the ranges of a quantization-aware checkpoint (--quantize)."""
    return self.tflite_quantize == 'int8' or self.quantize

  def _validate_tflite_quantize(self):
    # A bool from code written when the flag was one: True was dynamic.
    if isinstance(self.tflite_quantize, bool):
      self.tflite_quantize = 'dynamic' if self.tflite_quantize else 'none'
    if self.tflite_quantize not in TFLITE_QUANTIZE:
      raise UserError('Unknown --tflite_quantize %r; valid: %s' % (
          self.tflite_quantize, ', '.join(TFLITE_QUANTIZE)))
    if self.tflite_io_type not in TFLITE_IO_TYPES:
      raise UserError('Unknown --tflite_io_type %r; valid: %s' % (
          self.tflite_io_type, ', '.join(TFLITE_IO_TYPES)))
    _positive('calibration_steps', self.calibration_steps, allow_none=False)
    if self.quantize and self.tflite_quantize == 'dynamic':
      raise UserError('--quantize exports the integer model of a '
                      'quantization-aware checkpoint; --tflite_quantize='
                      'dynamic (float activations) cannot apply to it')
    if self.tflite_quantize != 'none' and not self.tflite_file:
      raise UserError('--tflite_quantize=%s needs --tflite_file (the model '
                      'to write)' % self.tflite_quantize)
    if (self.tflite_quantize == 'int8' and not self.quantize and
        not self.dataset_dir):
      raise UserError('--tflite_quantize=int8 calibrates the activation '
                      'ranges on images: give --dataset_dir (and '
                      '--dataset_split_name, default train), or --quantize '
                      'for a quantization-aware checkpoint\'s own ranges')

  def validate(self):
    self._validate_tflite_quantize()
    _check_precision(self.precision)
    _not_negative('labels_offset', self.labels_offset)
    _in_interval('central_crop_fraction', self.central_crop_fraction, '(0, 1]')
    calibrated = self.tflite_quantize == 'int8' and not self.quantize
    if (self.central_crop_fraction is not None and not self.saved_model_dir
        and not calibrated):
      raise UserError('--central_crop_fraction sets the preprocessing of the '
                      'SavedModel\'s image_bytes input and of the '
                      '--tflite_quantize=int8 calibration images: give '
                      '--saved_model_dir or those (the other formats take '
                      'preprocessed images)')
    if self.tflite_file and self.precision == 'bf16':
      raise UserError('--precision=bf16 cannot apply to --tflite_file: TFLite '
                      'has no bfloat16 weights; use --precision=fp16 (float16 '
                      'weights) or fp32')
    if (self.tflite_file and self.precision == 'fp16' and
        (self.tflite_quantize != 'none' or self.quantize)):
      raise UserError('--precision=fp16 (float16 TFLite weights) and '
                      '--%s (8-bit weights) exclude each other; give one' % (
                          'quantize' if self.quantize else
                          'tflite_quantize=' + self.tflite_quantize))
    for flag in ('batch_size', 'image_size', 'num_classes'):
      _positive(flag, getattr(self, flag))
    if not (self.output_file or self.frozen_graph_file or
            self.saved_model_dir or self.tflite_file):
      raise UserError('nothing to export: give --output_file (and with '
                      '--checkpoint_path: --frozen_graph_file, '
                      '--saved_model_dir, --tflite_file)')
    for flag in ('output_file', 'frozen_graph_file', 'tflite_file'):
      _output_file(flag, getattr(self, flag))
    _output_folder('saved_model_dir', self.saved_model_dir)
    needs_weights = [f for f in ('frozen_graph_file', 'saved_model_dir',
                                 'tflite_file') if getattr(self, f)]
    if needs_weights and not self.checkpoint_path:
      raise UserError('--%s needs --checkpoint_path (the weights to export)' %
                      needs_weights[0])


@dataclasses.dataclass(kw_only=True)
class ClassifyConfig(_Model):
  """classify_image.py: see engines/inference.py."""
  images: List[str] = dataclasses.field(
      default_factory=list, metadata={'flag': False})
  checkpoint_path: Optional[str] = None
  saved_model_dir: Optional[str] = None
  frozen_graph: Optional[str] = None
  tflite_file: Optional[str] = None
  image_size: Optional[int] = None
  central_crop_fraction: Optional[float] = None
  dataset_dir: Optional[str] = None
  labels_file: Optional[str] = None
  labels_offset: int = 0
  num_classes: Optional[int] = None
  top_k: int = 5

  MODEL_SOURCES = ('checkpoint_path', 'saved_model_dir', 'frozen_graph',
                   'tflite_file')

  def model_source(self):
    """Which of checkpoint_path, saved_model_dir, frozen_graph,
    tflite_file is given."""
    given = [f for f in self.MODEL_SOURCES if getattr(self, f)]
    if len(given) != 1:
      raise UserError('give exactly one of --%s%s' % (
          ', --'.join(self.MODEL_SOURCES),
          ' (got --%s)' % ', --'.join(given) if given else ''))
    return given[0]

  def validate(self):
    if not self.images:
      raise UserError('give one or more image files to classify')
    if self.model_source() == 'tflite_file':
      _tflite_file(self.tflite_file)
    if (self.model_source() == 'saved_model_dir' and
        self.central_crop_fraction is not None):
      raise UserError(
          '--central_crop_fraction applies to --checkpoint_path and '
          '--frozen_graph: a SavedModel keeps the preprocessing it was '
          'exported with (export_inference_graph.py --central_crop_fraction)')
    _in_interval('central_crop_fraction', self.central_crop_fraction, '(0, 1]')
    _positive('top_k', self.top_k, allow_none=False)
    _not_negative('labels_offset', self.labels_offset)
    _positive('num_classes', self.num_classes)
    _positive('image_size', self.image_size)


@dataclasses.dataclass(kw_only=True)
class ConvertConfig:
  """download_and_convert_data.py: see datasets/dataset_factory.py."""
  dataset_name: Optional[str] = None
  dataset_dir: Optional[str] = None
  source_dir: Optional[str] = None
  overwrite: bool = False
  seed: int = 0
  validation_fraction: float = 0.1
  num_shards: Optional[int] = None
  small_object_area_threshold: float = 0.005
  foreground_class_of_interest: str = 'person'
  verify: bool = False

  def validate(self):
    if not 0.0 <= self.validation_fraction < 1.0:
      raise UserError('--validation_fraction must be in [0, 1), got %g' %
                      self.validation_fraction)
    _positive('num_shards', self.num_shards)
    _output_folder('dataset_dir', self.dataset_dir)


def flag_fields(config_class):
  """The dataclass fields of `config_class` that are command-line flags."""
  return [f for f in dataclasses.fields(config_class)
          if f.metadata.get('flag', True)]


def write_json(config, path, **resolved):
  """Writes the config (and any `resolved` values) as JSON, atomically."""
  record = {'config': type(config).__name__,
            'flags': dataclasses.asdict(config), 'resolved': resolved}
  tmp = '%s.tmp-%d' % (path, os.getpid())
  with open(tmp, 'w') as f:
    json.dump(record, f, indent=2, sort_keys=True)
    f.write('\n')
  os.replace(tmp, path)


@dataclasses.dataclass(kw_only=True)
class ServeConfig:
  """serve_image_classifier.py: see engines/serving.py."""
  saved_model_dir: Optional[str] = None
  host: str = '127.0.0.1'
  port: int = 8501
  serving_name: str = 'slimvision'
  top_k: int = 5

  def validate(self):
    if not self.saved_model_dir:
      raise UserError('give --saved_model_dir: the SavedModel folder that '
                      'export_inference_graph.py --saved_model_dir wrote')
    if not 0 <= self.port <= 65535:
      raise UserError('--port must be in 0..65535 (0: any free port), got '
                      '%d' % self.port)
    # It is a segment of the URL path /v1/models/<name>:predict.
    if not self.serving_name or any(c in self.serving_name
                                    for c in '/:?#% '):
      raise UserError('--serving_name %r cannot be part of a URL path; use '
                      'letters, digits, - _ .' % self.serving_name)
    _positive('top_k', self.top_k, allow_none=False)
