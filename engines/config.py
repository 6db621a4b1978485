"""Typed run configurations: what each engine is asked to do.

One dataclass per command. A field's name is its command-line flag's name,
its default is that flag's default for that command (TF-Slim's names and
defaults) and its metadata holds the flag's help (and an enum flag's
choices), written beside it with `setting()`; so `cli.flags` defines the
flags of a command from its config class and builds the config from the
parsed flags; tests and library users build configs directly. A setting
that several commands share is declared once, in a mixin. `validate()`
checks a config before any graph is built and raises a UserError naming the
flag at fault.
"""

import dataclasses
import json
import os
from typing import List, Optional

from slimvision.core.errors import UserError
from slimvision.core.files import write_atomically

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


def setting(default, help_text, **metadata):
  """A config field that is a flag: its default and its help.

  Args:
    default: the flag's default (an immutable value).
    help_text: the flag's help, shown by --help.
    **metadata: `choices`, the values of an enum flag; `alias`, another
      name of the flag (TF-Slim's); `bare_value`, the value a bare `--name`
      of an enum flag that was a boolean once stands for (`--noname`:
      'none').
  """
  return dataclasses.field(default=default,
                           metadata=dict(metadata, help=help_text))


def redefault(mixin, name, default):
  """Field `name` of `mixin` with another default, for a command whose
  TF-Slim default differs; its help and choices stay the mixin's."""
  return dataclasses.field(
      default=default, metadata=mixin.__dataclass_fields__[name].metadata)


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


# ----------------------------------------------------------------------------
# Settings shared by several commands, each declared once with its help.
# A command's flags are its config's fields in dataclass order: those of its
# bases, the last base's first, then its own. Where a command needs another
# default, its class declares the field again through `redefault`, which
# keeps the help of the one declaration.


@dataclasses.dataclass(kw_only=True)
class _DatasetName:
  """Which dataset (training, evaluation, export, conversion)."""
  dataset_name: str = setting(
      'imagenet',
      'The name of the dataset (a registered dataset, or the name a folder was '
      'converted under with --source_dir).')


@dataclasses.dataclass(kw_only=True)
class _DatasetDir:
  """Where the converted dataset is (every command but serving)."""
  dataset_dir: Optional[str] = setting(
      None,
      'The directory where the converted dataset files are (conversion: where '
      'they are written; export and classify: its labels.txt names the '
      'classes).')


@dataclasses.dataclass(kw_only=True)
class _Model:
  """The network, its input, its weights and how its outputs map to the
  dataset's labels (training, evaluation, export, classify)."""
  model_name: str = setting(
      'inception_v3', 'The name of the architecture to use.')
  preprocessing_name: Optional[str] = setting(
      None,
      'The name of the preprocessing to use. If left as `None`, then the '
      'model_name flag is used.')
  use_grayscale: bool = setting(
      False, 'Whether to convert input images to grayscale.')
  moving_average_decay: Optional[float] = setting(
      None,
      'The decay of the moving averages of the weights. Training keeps such '
      'averages (None: none); evaluation, export and classify restore the '
      'weights from them (give the decay the model was trained with).')
  checkpoint_path: Optional[str] = setting(
      None,
      'A checkpoint file prefix, a folder whose latest checkpoint is used, or '
      'zoo:<model_name> (e.g. zoo:mobilenet_v1_025) for the published TF-Slim '
      'ImageNet checkpoint of that network, downloaded once into '
      '$SLIMVISION_CACHE/zoo (by default ~/.cache/slimvision/zoo); the README '
      'lists the names. Training: the checkpoint to fine-tune from (ignored '
      'when --train_dir already holds one, which is resumed); evaluation, '
      'export and classify: the weights to use.')
  labels_offset: int = setting(
      0,
      'An offset for the labels in the dataset. This flag is primarily used to '
      'evaluate the VGG and ResNet architectures which do not use a background '
      'class for the ImageNet dataset.')

  @property
  def preprocessing(self):
    """The preprocessing (or model) name that selects the input functions."""
    return self.preprocessing_name or self.model_name


@dataclasses.dataclass(kw_only=True)
class _Batch:
  """The batch size of the graph (training, evaluation, export)."""
  batch_size: Optional[int] = setting(
      None,
      'The number of samples in each batch (training: over all clones; export: '
      'the fixed batch of the graph, or any if unset).')


@dataclasses.dataclass(kw_only=True)
class _Precision:
  """The arithmetic of the graph (training, evaluation, export)."""
  precision: str = setting(
      'auto',
      'The arithmetic: fp32; bf16 (TensorFlow\'s oneDNN bf16 graph rewrite, '
      'fast on CPUs with AMX or AVX512-BF16); fp16 (float16 rewrite of the GPU '
      'ops, GPUs of compute capability 7.0 or newer; training adds dynamic '
      'loss scaling); auto (bf16 where it was measured faster for the model on '
      'this hardware, else fp32; the log says which and why). Variables and '
      'checkpoints stay float32. Export: every graph stays float32; fp16 '
      'writes the --tflite_file with float16 weights, bf16 is refused for it '
      '(TFLite has no bf16 weights). Not a TF-Slim flag.', choices=PRECISIONS)


@dataclasses.dataclass(kw_only=True)
class _DatasetSplit:
  """Which split of the dataset (training, evaluation, export)."""
  dataset_split_name: str = setting(
      'train',
      'The name of the split to use (export: the split whose images '
      'calibrate --tflite_quantize=int8).')


@dataclasses.dataclass(kw_only=True)
class _Data(_Batch, _DatasetSplit, _DatasetDir, _DatasetName):
  """Reading a split of a converted dataset, and the TensorFlow session
  that runs the graph (training, evaluation)."""
  num_preprocessing_threads: int = setting(
      4, 'The number of threads used to decode and preprocess the images.')
  skip_corrupt_records: bool = setting(
      False,
      'Skip a record that cannot be read or decoded, or whose label is out of '
      'range, with a warning naming its file and index, and report how many '
      'were skipped (default: stop with an error naming it). Not a TF-Slim '
      'flag.')
  jpeg_decode: str = setting(
      'partial',
      'How JPEG images are decoded: partial (only the part the preprocessing '
      'keeps - its crop window - and at 1/2, 1/4 or 1/8 scale in the DCT '
      'domain when it shrinks the image at least that much anyway) or whole '
      '(decode the whole image, then crop and resize, as TF-Slim did). Other '
      'formats are always decoded whole.', choices=JPEG_DECODES)
  intra_op_threads: int = setting(
      0,
      'Threads that one TensorFlow op (a convolution) may use; 0 means one per '
      'core.')
  inter_op_threads: int = setting(
      0, 'TensorFlow ops run at once; 0 means one per core.')
  input_threads: int = setting(
      0,
      'Threads of the input pipeline\'s own pool, apart from the threads '
      'that run the step\'s ops; 0 means the input runs on TensorFlow\'s '
      'inter-op threads. Not a TF-Slim flag.')
  master: str = setting('', 'The address of the TensorFlow master.')

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
    _not_negative('input_threads', self.input_threads)
    if self.jpeg_decode not in JPEG_DECODES:
      raise UserError('Unknown --jpeg_decode %r; valid: %s' %
                      (self.jpeg_decode, ', '.join(JPEG_DECODES)))


@dataclasses.dataclass(kw_only=True)
class _Seed:
  """The random seed (training, conversion)."""
  seed: Optional[int] = setting(
      None,
      'Random seed. Training: shuffling and initialisation (None: random); '
      'conversion: shuffling and the split assignment.')


@dataclasses.dataclass(kw_only=True)
class _CentralCrop:
  """The eval preprocessing's central crop (evaluation, export, classify)."""
  central_crop_fraction: Optional[float] = setting(
      None,
      'Inception preprocessing: the fraction of the image\'s height and width '
      'that the central crop keeps before the resize (default: 0.875, as in '
      'TF-Slim). 1 keeps the whole image, which suits images whose label is '
      'the whole frame (scenes, textures, satellite tiles) and training with a '
      'large --min_crop_area. Not a TF-Slim flag.')


@dataclasses.dataclass(kw_only=True)
class _InferenceGraph:
  """The input size and output width of an inference graph (export,
  classify)."""
  image_size: Optional[int] = setting(
      None, 'Input image size in pixels; default: the network\'s own.')
  num_classes: Optional[int] = setting(
      None,
      'Number of model outputs (default: the dataset\'s classes minus '
      '--labels_offset, or the number of labels).')


@dataclasses.dataclass(kw_only=True)
class _Quantize:
  """The graph of a quantization-aware checkpoint (evaluation, export)."""
  quantize: bool = setting(
      False,
      'whether to use quantized graph or not: the graph of a checkpoint '
      'trained with --quantize_delay (batch norm folded, fake-quantized with '
      'the checkpoint\'s ranges). Export: the --tflite_file is then a '
      'full-integer model with those ranges.')


@dataclasses.dataclass(kw_only=True)
class _TfliteFile:
  """A TFLite model (export writes it; evaluation and classify read it)."""
  tflite_file: Optional[str] = setting(
      None,
      'Export: write a TFLite model here. Evaluation and classify: score or '
      'run this TFLite model (float or integer) instead of a checkpoint.')


@dataclasses.dataclass(kw_only=True)
class _SavedModelDir:
  """A SavedModel folder (export, classify, serving)."""
  saved_model_dir: Optional[str] = setting(
      None,
      'A SavedModel folder: export writes one there (TensorFlow Serving, '
      'tf.saved_model.load); classify and serve read one (classify: instead of '
      'a checkpoint; serve: also a folder of numbered versions, the highest of '
      'which is served).')


@dataclasses.dataclass(kw_only=True)
class _TopK:
  """How many classes an answer names (classify, serving)."""
  top_k: int = setting(
      5,
      'How many classes to print per image. Serve: how many classes POST '
      '/classify answers with (unless its ?top_k= says).')


# ----------------------------------------------------------------------------
# The commands.


@dataclasses.dataclass(kw_only=True)
class TrainConfig(_Precision, _Seed, _Model, _Data):
  """train_image_classifier.py: see engines/training.py."""
  # TF-Slim's default for this command.
  batch_size: int = redefault(_Batch, 'batch_size', 32)
  train_dir: str = setting(
      '/tmp/tfmodel/',
      'Directory where checkpoints and event logs are written.')
  train_image_size: Optional[int] = setting(
      None, 'Training image size in pixels; default: the network\'s own.')
  max_number_of_steps: Optional[int] = setting(
      None, 'The maximum number of training steps.')
  # Fine-tuning.
  checkpoint_exclude_scopes: Optional[str] = setting(
      None,
      'Comma-separated list of scopes of variables to exclude when restoring '
      'from a checkpoint.')
  trainable_scopes: Optional[str] = setting(
      None,
      'Comma-separated list of scopes to filter the set of variables to train. '
      'By default, None would train all the variables.')
  ignore_missing_vars: bool = setting(
      False, 'When restoring a checkpoint would ignore missing variables.')
  freeze_batch_norm_statistics: bool = setting(
      False,
      'With --trainable_scopes: run only the batch-norm updates of those '
      'scopes, so the moving mean and variance of the frozen layers stay as '
      'restored. Not a TF-Slim flag: TF-Slim (the default) updates every '
      'layer\'s statistics, which adapts them to new images but, with small '
      'batches or few images, can drift from what the frozen weights were '
      'trained with.')
  # Model and loss.
  weight_decay: float = setting(
      0.00004, 'The weight decay on the model weights.')
  batch_norm_decay: Optional[float] = setting(
      None,
      'Decay of the batch-norm moving mean and variance (default: the '
      'network\'s own, 0.9997 for most). Not a TF-Slim flag: lower it (e.g. '
      '0.99) for a run of a few thousand steps from scratch, whose moving '
      'statistics would otherwise lag the weights and spoil evaluation.')
  label_smoothing: float = setting(0.0, 'The amount of label smoothing.')
  quantize_delay: int = setting(
      -1,
      'Number of steps to start quantized training. Set to -1 would disable '
      'quantized training. Quantization-aware training as '
      'tf.contrib.quantize did it: batch norm folded into the weights, '
      'fake-quantized weights and activations, their ranges collected from '
      'step 0 and applied from this step on.')
  # Augmentation (inception preprocessing).
  min_crop_area: Optional[float] = setting(
      None,
      'Inception preprocessing: the smallest random training crop, as a '
      'fraction of the image area (default: TF-Slim\'s 0.05). Not a TF-Slim '
      'flag: milder crops (e.g. 0.35) let a short run on a small dataset fit '
      'more.')
  color_distortion: bool = setting(
      True,
      'Inception preprocessing: randomly distort the brightness and saturation '
      'of training images. Not a TF-Slim flag; --nocolor_distortion turns it '
      'off.')
  random_rotate_90: bool = setting(
      False,
      'Inception preprocessing: also rotate training images by a random '
      'multiple of 90 degrees, which with the left-right flip gives all 8 '
      'orientations. Not a TF-Slim flag: for overhead imagery such as '
      'satellite, whose orientation means nothing.')
  # Optimizer.
  optimizer: str = setting(
      'rmsprop', 'The name of the optimizer.', choices=OPTIMIZERS)
  adadelta_rho: float = setting(0.95, 'The decay rate for adadelta.')
  adagrad_initial_accumulator_value: float = setting(
      0.1, 'Starting value for the AdaGrad accumulators.')
  adam_beta1: float = setting(
      0.9, 'The exponential decay rate for the 1st moment estimates.')
  adam_beta2: float = setting(
      0.999, 'The exponential decay rate for the 2nd moment estimates.')
  opt_epsilon: float = setting(1.0, 'Epsilon term for the optimizer.')
  ftrl_learning_rate_power: float = setting(-0.5, 'The learning rate power.')
  ftrl_initial_accumulator_value: float = setting(
      0.1, 'Starting value for the FTRL accumulators.')
  ftrl_l1: float = setting(0.0, 'The FTRL l1 regularization strength.')
  ftrl_l2: float = setting(0.0, 'The FTRL l2 regularization strength.')
  momentum: float = setting(
      0.9, 'The momentum for the MomentumOptimizer and RMSPropOptimizer.')
  rmsprop_momentum: float = setting(0.9, 'Momentum.')
  rmsprop_decay: float = setting(0.9, 'Decay term for RMSProp.')
  # Learning rate.
  learning_rate_decay_type: str = setting(
      'exponential',
      'Specifies how the learning rate is decayed: exponential (staircase), '
      'fixed, polynomial (linear to --end_learning_rate) or cosine (half a '
      'cosine to --end_learning_rate at --max_number_of_steps, after any '
      '--warmup_epochs).', choices=DECAY_TYPES)
  learning_rate: float = setting(0.01, 'Initial learning rate.')
  end_learning_rate: float = setting(
      0.0001,
      'The minimal end learning rate used by a polynomial decay learning rate.')
  learning_rate_decay_factor: float = setting(
      0.94, 'Learning rate decay factor.')
  num_epochs_per_decay: float = setting(
      2.0, 'Number of epochs after which learning rate decays.')
  warmup_epochs: float = setting(
      0, 'Linearly warm up the learning rate from 0 over this many epochs.')
  # Input, logging and checkpoints.
  num_readers: int = setting(
      4, 'The number of parallel readers that read data.')
  image_cache_mb: Optional[int] = setting(
      None,
      'Keep the decoded training images in memory, if the split fits in this '
      'many MiB (estimated from its image sizes before training), so each '
      'image is read and decoded once. Default: a quarter of the memory '
      'available when training starts; 0 turns the cache off. Not a TF-Slim '
      'flag.')
  log_every_n_steps: int = setting(
      10, 'The frequency with which logs are printed.')
  save_summaries_secs: int = setting(
      600,
      'The frequency with which summaries are saved, in seconds (0: only at '
      'the last step).')
  save_summaries_steps: Optional[int] = setting(
      None,
      'Save summaries every this many steps instead of every '
      '--save_summaries_secs. Either way they are also saved at the last step.')
  save_interval_secs: int = setting(
      600,
      'The frequency with which the model is saved, in seconds (0: only at the '
      'start and the last step).')
  # Clones, replicas and the cluster.
  num_clones: int = setting(1, 'Number of model clones to deploy.')
  clone_on_cpu: bool = setting(False, 'Use CPUs to deploy clones.')
  task: int = setting(0, 'Task id of the replica running the training.')
  worker_replicas: int = setting(1, 'Number of worker replicas.')
  num_ps_tasks: int = setting(
      0,
      'The number of parameter servers. If 0, parameters are handled locally '
      'by the worker.')
  ps_hosts: str = setting(
      '',
      'Comma-separated host:port of the parameter servers (instead of '
      'TF_CONFIG).')
  worker_hosts: str = setting(
      '', 'Comma-separated host:port of the workers (instead of TF_CONFIG).')
  job_name: str = setting('', 'ps or worker, with --ps_hosts.')
  sync_replicas: bool = setting(
      False, 'Whether or not to synchronize the replicas during training.')
  replicas_to_aggregate: int = setting(
      1, 'The Number of gradients to collect before updating params.')
  ps_worker_timeout_secs: int = setting(
      120,
      'A ps task exits, with an error, when no worker task has answered for '
      'this long before the chief reported the end of training (the workers '
      'died or never started); 0: wait forever. Not a TF-Slim flag.')

  def validate(self):
    """Raises UserError for a setting the training cannot honour."""
    self._validate_data()
    if self.quantize_delay < -1:
      raise UserError('--quantize_delay must be -1 (no quantization-aware '
                      'training) or a step count (0: from the start), got %d'
                      % self.quantize_delay)
    _output_folder('train_dir', self.train_dir)
    if self.image_cache_mb is not None:
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
    _not_negative('ps_worker_timeout_secs', self.ps_worker_timeout_secs)
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
    if self.learning_rate_decay_type not in DECAY_TYPES:
      raise UserError('Unknown --learning_rate_decay_type %r; valid: %s' %
                      (self.learning_rate_decay_type, ', '.join(DECAY_TYPES)))
    if self.sync_replicas and self.replicas_to_aggregate < 1:
      raise UserError('--replicas_to_aggregate must be at least 1 with '
                      '--sync_replicas, got %d' % self.replicas_to_aggregate)
    _check_precision(self.precision)
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
class EvalConfig(_Precision, _TfliteFile, _Quantize, _CentralCrop, _Model,
                 _Data):
  """eval_image_classifier.py: see engines/evaluation.py."""
  # TF-Slim's defaults for this command.
  dataset_split_name: str = redefault(_Data, 'dataset_split_name', 'test')
  batch_size: int = redefault(_Batch, 'batch_size', 100)
  checkpoint_path: Optional[str] = redefault(_Model, 'checkpoint_path',
                                             '/tmp/tfmodel/')
  eval_dir: str = setting(
      '/tmp/tfmodel/', 'Directory where the results are saved to.')
  eval_image_size: Optional[int] = setting(
      None, 'Evaluation image size in pixels; default: the network\'s own.')
  max_num_batches: Optional[int] = setting(
      None, 'Max number of batches to evaluate by default use all.')
  eval_interval_secs: int = setting(
      0,
      'With a checkpoint folder: wait at least this long between evaluations '
      'and evaluate each new checkpoint (0: evaluate the latest once).')
  eval_timeout_secs: Optional[int] = setting(
      None,
      'In loop mode, stop after this many seconds without a new checkpoint '
      '(None: wait forever).')

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
class ExportConfig(_Precision, _TfliteFile, _Quantize, _SavedModelDir,
                   _CentralCrop, _InferenceGraph, _Model, _Batch,
                   _DatasetSplit, _DatasetDir, _DatasetName):
  """export_inference_graph.py: see engines/export.py."""
  is_training: bool = setting(
      False, 'Whether to save out a training-focused version of the model.')
  is_video_model: bool = setting(
      False,
      'Whether to use 5-D inputs for a video model (the registered video '
      'models, i3d and s3dg, always do).')
  num_frames: Optional[int] = setting(
      None, 'The number of frames of a video model\'s input.')
  output_file: str = setting(
      '',
      'Where to save the resulting file to. With --checkpoint_path and no '
      '--frozen_graph_file, the frozen graph goes here.')
  write_text_graphdef: bool = setting(
      False, 'Whether to write a text version of graphdef.')
  frozen_graph_file: Optional[str] = setting(
      None, 'Write the graph with the checkpoint\'s weights as constants here.')
  tflite_quantize: str = setting(
      'none',
      'Post-training quantization of the --tflite_file: none (float); dynamic '
      '(8-bit weights, float activations; a bare --tflite_quantize means '
      'this); int8 (every op integer, for microcontrollers and the EdgeTPU: '
      'activation ranges calibrated on --calibration_steps images of '
      '--dataset_split_name in --dataset_dir through the eval '
      'preprocessing).', choices=TFLITE_QUANTIZE, bare_value='dynamic')
  tflite_io_type: str = setting(
      'int8',
      'The type of the input and output tensors of an integer TFLite model '
      '(--tflite_quantize=int8 or --quantize): int8 or uint8. Their scale and '
      'zero point are in the model and in its .metadata.json.',
      choices=TFLITE_IO_TYPES)
  calibration_steps: int = setting(
      1000,
      'How many images (one per step, as research/slim\'s '
      'post_training_quantization.py) calibrate --tflite_quantize=int8; at '
      'most the split\'s size.')

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

  def _validate_tflite_precision(self):
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
    self._validate_tflite_precision()
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
class ClassifyConfig(_TopK, _TfliteFile, _SavedModelDir, _CentralCrop,
                     _InferenceGraph, _Model, _DatasetDir):
  """classify_image.py: see engines/inference.py."""
  images: List[str] = dataclasses.field(
      default_factory=list, metadata={'flag': False})
  frozen_graph: Optional[str] = setting(
      None,
      'A frozen graph written by export_inference_graph.py (instead of a '
      'checkpoint; give its --model_name for the preprocessing).')
  labels_file: Optional[str] = setting(
      None,
      'A labels file (index:name lines). Without it, or a labels.txt in '
      '--dataset_dir, a --checkpoint_path=zoo:NAME is named with ImageNet\'s '
      'classes (their names downloaded once).')

  MODEL_SOURCES = ('checkpoint_path', 'saved_model_dir', 'frozen_graph',
                   'tflite_file')

  def model_source(self):
    """Which of MODEL_SOURCES is given."""
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
class ConvertConfig(_Seed, _DatasetDir, _DatasetName):
  """download_and_convert_data.py: see datasets/dataset_factory.py."""
  # No default dataset; a conversion is reproducible by default.
  dataset_name: Optional[str] = redefault(_DatasetName, 'dataset_name', None)
  seed: int = redefault(_Seed, 'seed', 0)
  source_dir: Optional[str] = setting(
      None,
      'A local folder (or archive) to convert instead of downloading. Required '
      'for image-folder datasets, imagenet and visualwakewords.',
      alias='source')
  overwrite: bool = setting(
      False, 'Convert again even if --dataset_dir holds a complete conversion.')
  validation_fraction: float = setting(
      0.1,
      'Share of each class held out for validation when the source folder has '
      'no train/validation split.')
  num_shards: Optional[int] = setting(
      None,
      'Record files per split (default: the dataset\'s own, 5 for image '
      'folders).')
  small_object_area_threshold: float = setting(
      0.005,
      'visualwakewords: smallest foreground object area, as a share of the '
      'image area, that labels an image 1.')
  foreground_class_of_interest: str = setting(
      'person', 'visualwakewords: the COCO category of label 1.')
  coco_dirname: str = setting(
      'coco_dataset',
      'visualwakewords without --source_dir: the COCO 2014 folder under '
      '--dataset_dir (where research/slim downloads it).')
  verify: bool = setting(
      False,
      'Convert nothing: read every record of every split of the dataset in '
      '--dataset_dir (parse, decode the image, check the label), list each bad '
      'one (file, index, reason) and exit 2 if any is bad.')

  def validate(self):
    if not 0.0 <= self.validation_fraction < 1.0:
      raise UserError('--validation_fraction must be in [0, 1), got %g' %
                      self.validation_fraction)
    _positive('num_shards', self.num_shards)
    _output_folder('dataset_dir', self.dataset_dir)


@dataclasses.dataclass(kw_only=True)
class ServeConfig(_TopK, _SavedModelDir):
  """serve_image_classifier.py: see engines/serving.py."""
  host: str = setting(
      '127.0.0.1',
      'The address to serve on. The default, 127.0.0.1, answers this machine '
      'only; 0.0.0.0 exposes the server to the network (it has no '
      'authentication).')
  port: int = setting(
      8501,
      'The port to serve on: 8501, TensorFlow Serving\'s REST port, by '
      'default; 0 picks a free one (printed).')
  serving_name: str = setting(
      'slimvision',
      'The model name in the URL, as TensorFlow Serving\'s MODEL_NAME: POST '
      '/v1/models/<serving_name>:predict.')

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


def flag_fields(config_class):
  """The dataclass fields of `config_class` that are command-line flags."""
  return [f for f in dataclasses.fields(config_class)
          if f.metadata.get('flag', True)]


def write_json(config, path, history=None, **resolved):
  """Writes the config (and any `resolved` values, and a `history` list of
  earlier records where given) as JSON, atomically."""
  record = {'config': type(config).__name__,
            'flags': dataclasses.asdict(config), 'resolved': resolved}
  if history is not None:
    record['history'] = history
  write_atomically(path, json.dumps(record, indent=2, sort_keys=True) + '\n')
