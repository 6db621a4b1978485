"""Reduced precision for training and evaluation: which one, and how.

`--precision` is fp32, bf16, fp16 or auto. Reduced precision is a graph
rewrite set in the session's ConfigProto (`session_config_for`): TensorFlow
casts the ops it can to bf16 or float16 when it optimizes the graph, while
the variables, and so the checkpoints and the exported graphs, stay float32.

  * bf16: `RewriterConfig.auto_mixed_precision_onednn_bfloat16`. It converts
    the ops placed on the CPU only, and TensorFlow adds it to the graph
    optimizers only when its oneDNN ops are on (TensorFlow's default: on
    x86 CPUs with AVX512-VNNI, AVX512-BF16 or AMX; the slimvision package
    sets TF_ENABLE_ONEDNN_OPTS=1 unless it is set, see __init__.py).
    It pays off on CPUs with native bf16 (AMX, AVX512-BF16); on other CPUs
    it is either skipped (oneDNN off) or emulated, much slower than float32.
  * fp16: `RewriterConfig.auto_mixed_precision`, which converts the ops on
    GPUs of compute capability 7.0 or newer only; training wraps the
    optimizer in dynamic loss scaling (`wrap_optimizer`) so that small
    gradients do not underflow in float16.
  * auto: `choose` picks bf16 only where it was measured faster for the
    model on this kind of hardware (`MEASURED`), and float32 otherwise, so
    it never picks a slower precision. There are no GPU measurements yet:
    on a GPU, auto is fp32 and `--precision=fp16` tries float16.
"""

import collections
import os

from slimvision.core import log
from slimvision.core.errors import UserError
from slimvision.engines.config import PRECISIONS

# The CPU flags (/proc/cpuinfo) of native bf16 arithmetic.
CPU_BF16_FEATURES = ('amx_bf16', 'avx512_bf16')
# Compute capabilities with fast float16 (tensor cores, Volta on) and with
# bf16 units (Ampere on).
FP16_MIN_CAPABILITY = (7, 0)
BF16_MIN_CAPABILITY = (8, 0)

# Hardware kinds, the keys of MEASURED, and how the reasons name them.
KIND_NAMES = {
    'cpu-amx': 'AMX',
    'cpu-avx512bf16': 'AVX512-BF16',
    'cpu': 'this CPU',
    'gpu-tensorcore': 'this GPU',
    'gpu': 'this GPU',
}

# (model_name, hardware kind): training throughput in the reduced precision
# of that kind (bf16 on a CPU, float16 on a GPU) over float32, from a bare
# training step (no input pipeline), TF 2.21, images/s where given.
MEASURED = {
    # A 2-core Xeon with AMX.
    ('inception_v3', 'cpu-amx'): 15.0 / 7.0,  # @299, batch 8.
    ('cifarnet', 'cpu-amx'): 1.41,  # @32, batch 32.
    ('mobilenet_v1_025', 'cpu-amx'): 145.0 / 451.0,  # @128, batch 32.
    # A 2-core AMD EPYC with AVX512-BF16 and no AMX (medians of 2 runs,
    # alternated, benchmarks/train_throughput.py --bare).
    ('inception_v3', 'cpu-avx512bf16'): 7.08 / 3.90,  # @299, batch 8.
    ('cifarnet', 'cpu-avx512bf16'): 736.0 / 621.0,  # @32, batch 32.
    ('mobilenet_v1_025', 'cpu-avx512bf16'): 202.0 / 396.0,  # @128, b 32.
    ('mobilenet_v3_small_minimalistic', 'cpu-avx512bf16'): 154.0 / 330.0,
}
# Why a measured model is slower, where known.
SLOWER_BECAUSE = {
    ('mobilenet_v1_025', 'cpu-amx'): 'depthwise convolutions',
    ('mobilenet_v1_025', 'cpu-avx512bf16'): 'depthwise convolutions',
    ('mobilenet_v3_small_minimalistic', 'cpu-avx512bf16'):
        'depthwise convolutions',
}


# Why bf16 in a cluster runs without the fused-op remapper. The remapper
# fuses Conv2D + BiasAdd + Relu into _FusedConv2D, whose registered op
# allows half, float, double, int8 and qint8 only: bf16 is the oneDNN form's
# alone. In one process, TensorFlow's oneDNN layout pass turns the fused op
# into that form before any kernel is looked up. In a cluster, the master
# sends each task its partition of the graph, and the task checks every
# node against the op registry as it imports it, before its own passes
# run: a bf16 _FusedConv2D is refused there ("Value for attr 'T' of
# bfloat16 is not in the list of allowed values"). Unfused, each op has a
# bf16 kernel. Measured on cifarnet@32/32, AVX512-BF16: bf16 without the
# remapper is still 1.25-2x float32 (README, "Precision").
CLUSTER_BF16_NOTE = ('bf16 in a cluster: the fused-op remapper is off '
                     '(TensorFlow\'s distributed runtime refuses its bf16 '
                     'fused convolutions)')


class Hardware(collections.namedtuple(
    'Hardware', ['cpu_flags', 'gpu_capability', 'onednn'])):
  """What decides the precision: the CPU's native-bf16 flags (a frozenset
  of CPU_BF16_FEATURES), the first GPU's compute capability ((major, minor),
  or None without a GPU) and whether TensorFlow's oneDNN ops are on."""

  @property
  def kind(self):
    """The key of MEASURED: 'cpu-amx', 'cpu-avx512bf16', 'cpu',
    'gpu-tensorcore' (compute capability 7.0 or newer) or 'gpu'."""
    if self.gpu_capability is not None:
      return ('gpu-tensorcore' if self.gpu_capability >= FP16_MIN_CAPABILITY
              else 'gpu')
    if 'amx_bf16' in self.cpu_flags:
      return 'cpu-amx'
    if 'avx512_bf16' in self.cpu_flags:
      return 'cpu-avx512bf16'
    return 'cpu'


def _read_cpuinfo():
  """The text of /proc/cpuinfo, or '' where there is none (as on macOS)."""
  try:
    with open('/proc/cpuinfo') as f:
      return f.read()
  except OSError:
    return ''


def _flags(cpuinfo):
  """Every flag on the `flags` lines of /proc/cpuinfo's text."""
  found = set()
  for line in cpuinfo.splitlines():
    name, _, value = line.partition(':')
    if name.strip() == 'flags':
      found.update(value.split())
  return found


def cpu_bf16_flags(cpuinfo=None):
  """The native-bf16 flags of this CPU: a frozenset of CPU_BF16_FEATURES.

  Args:
    cpuinfo: the text of /proc/cpuinfo (default: read it; without one, the
      CPU counts as having no native bf16).
  """
  if cpuinfo is None:
    cpuinfo = _read_cpuinfo()
  return frozenset(_flags(cpuinfo) & set(CPU_BF16_FEATURES))


def onednn_enabled():
  """Whether TensorFlow's oneDNN ops are on in this process (without them
  TensorFlow does not run the bf16 rewrite at all)."""
  try:
    # pylint: disable=g-import-not-at-top
    from tensorflow.python.util import _pywrap_util_port
    return bool(_pywrap_util_port.IsMklEnabled())
  except (ImportError, AttributeError):
    pass
  # TensorFlow's own rule, for a build without that (private) function.
  setting = os.environ.get('TF_ENABLE_ONEDNN_OPTS', '').strip().lower()
  if setting:
    return setting in ('1', 'true')
  return bool(_flags(_read_cpuinfo()) & {
      'avx512_vnni', 'avx512_bf16', 'avx_vnni', 'amx_bf16', 'amx_int8',
      'amx_tile'})


def gpu_capability():
  """The compute capability (major, minor) of the first visible GPU, or
  None without one (or without a capability, as on a non-CUDA GPU)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for gpu in tf.config.list_physical_devices('GPU'):
    details = tf.config.experimental.get_device_details(gpu)
    capability = details.get('compute_capability')
    if capability:
      return tuple(capability)
  return None


def detect(cpuinfo=None):
  """The Hardware of this machine (cpuinfo: /proc/cpuinfo's text, for
  tests)."""
  return Hardware(cpu_bf16_flags(cpuinfo), gpu_capability(),
                  onednn_enabled())


def _capability(capability):
  return '%d.%d' % tuple(capability)


def _valid_here(hardware):
  """The --precision values this machine accepts."""
  fp16 = (hardware.gpu_capability is not None and
          hardware.gpu_capability >= FP16_MIN_CAPABILITY)
  return ', '.join(p for p in PRECISIONS if p != 'fp16' or fp16)


def choose(requested, model_name, hardware=None, *, in_cluster=False):
  """The precision to run `model_name` in, and why.

  Args:
    requested: the --precision value: 'fp32', 'bf16', 'fp16' or 'auto'.
    model_name: the network (looked up in MEASURED for auto).
    hardware: a Hardware (default: this machine's, `detect()`).
    in_cluster: whether a TensorFlow server runs the graph (a master
      address, ps tasks); bf16 then runs unfused, which the reason says
      (CLUSTER_BF16_NOTE).

  Returns:
    (precision, reason): precision is 'fp32', 'bf16' or 'fp16'; reason is a
    short text for the log, e.g. 'auto: this CPU has no native bf16 (no
    amx_bf16 or avx512_bf16 flag)'. Caveats of an explicit request (bf16
    where it cannot be fast) are logged here as warnings.

  Raises:
    UserError: an unknown value, or fp16 without a GPU that can run it.
  """
  chosen, reason = _choose(requested, model_name, hardware)
  if chosen == 'bf16' and in_cluster:
    reason += '; ' + CLUSTER_BF16_NOTE
  return chosen, reason


def _choose(requested, model_name, hardware):
  """choose() outside a cluster."""
  if requested not in PRECISIONS:
    raise UserError('Unknown --precision %r; valid: %s' %
                    (requested, ', '.join(PRECISIONS)))
  if hardware is None:
    hardware = detect()
  if requested == 'fp32':
    return 'fp32', 'requested with --precision=fp32'
  if requested == 'fp16':
    return 'fp16', _fp16_reason(hardware)
  if requested == 'bf16':
    _warn_about_bf16(model_name, hardware)
    return 'bf16', 'requested with --precision=bf16'
  return _auto(model_name, hardware)


def _fp16_reason(hardware):
  """The reason for an explicit fp16, or UserError where it cannot run."""
  if hardware.gpu_capability is None:
    raise UserError(
        '--precision=fp16 needs a GPU (TensorFlow\'s float16 rewrite converts '
        'GPU ops only) and none is visible; valid here: %s' %
        _valid_here(hardware))
  if hardware.gpu_capability < FP16_MIN_CAPABILITY:
    raise UserError(
        '--precision=fp16 needs a GPU of compute capability %s or newer '
        '(TensorFlow\'s float16 rewrite skips older ones); this GPU is %s; '
        'valid here: %s' % (_capability(FP16_MIN_CAPABILITY),
                            _capability(hardware.gpu_capability),
                            _valid_here(hardware)))
  return ('requested with --precision=fp16: float16 rewrite of the GPU ops '
          '(compute capability %s)' % _capability(hardware.gpu_capability))


def _warn_about_bf16(model_name, hardware):
  """Says where an explicit bf16 will not be faster than float32."""
  if hardware.gpu_capability is not None:
    units = ('has bf16 units, but' if hardware.gpu_capability >=
             BF16_MIN_CAPABILITY else 'has no bf16 units, and')
    log.warning(
        'Warning: --precision=bf16: this GPU (compute capability %s) %s '
        'TensorFlow\'s bf16 graph rewrite converts CPU ops only: the ops on '
        'the GPU stay float32. Its GPU rewrite is float16: '
        '--precision=fp16.', _capability(hardware.gpu_capability), units)
    return
  kind = hardware.kind
  if kind == 'cpu':
    if hardware.onednn:
      log.warning(
          'Warning: --precision=bf16: this CPU has no native bf16 (no '
          'amx_bf16 or avx512_bf16 flag); TensorFlow emulates the bf16 ops, '
          'which is much slower than float32 (a small convolutional '
          'network\'s training step took 16x longer on an AVX2 CPU).')
    else:
      log.warning(
          'Warning: --precision=bf16: this CPU has no native bf16 (no '
          'amx_bf16 or avx512_bf16 flag) and TensorFlow\'s oneDNN ops are '
          'off here, so TensorFlow skips the bf16 rewrite: the run is '
          'float32, with no speed-up.')
    return
  if not hardware.onednn:
    log.warning(
        'Warning: --precision=bf16: TensorFlow\'s oneDNN ops are off '
        '(TF_ENABLE_ONEDNN_OPTS=0?), so it skips the bf16 rewrite: the run '
        'is float32. Unset TF_ENABLE_ONEDNN_OPTS to use %s.',
        KIND_NAMES[kind])
    return
  speedup = MEASURED.get((model_name, kind))
  if speedup is not None and speedup <= 1.0:
    log.warning('Warning: --precision=bf16: %s is %s in bf16 on %s %s; '
                '--precision=auto would pick fp32.', model_name,
                _slower(speedup), KIND_NAMES[kind], _why(model_name, kind))


def _slower(speedup):
  """'3.1x slower' for a speed-up below 1 (or 'no faster')."""
  if 1.0 / speedup < 1.05:
    return 'no faster'
  return '%.1fx slower' % (1.0 / speedup)


def _why(model_name, kind):
  """'(depthwise convolutions)', or '(measured)' where no cause is known."""
  return '(%s)' % SLOWER_BECAUSE.get((model_name, kind), 'measured')


def _auto(model_name, hardware):
  """--precision=auto: bf16 where measured faster, else float32."""
  kind = hardware.kind
  name = KIND_NAMES[kind]
  speedup = MEASURED.get((model_name, kind))
  if hardware.gpu_capability is not None:
    if kind == 'gpu':
      return 'fp32', ('auto: this GPU (compute capability %s) has no fast '
                      'float16' % _capability(hardware.gpu_capability))
    if speedup is None:
      return 'fp32', ('auto: float16 on this GPU is not measured for %s; '
                      '--precision=fp16 tries it' % model_name)
    if speedup > 1.0:
      return 'fp16', ('auto: %s trains %.1fx faster in float16 on this GPU '
                      '(measured)' % (model_name, speedup))
    return 'fp32', 'auto: %s is %s in float16 on this GPU %s' % (
        model_name, _slower(speedup), _why(model_name, kind))
  if kind == 'cpu':
    return 'fp32', ('auto: this CPU has no native bf16 (no amx_bf16 or '
                    'avx512_bf16 flag)')
  if not hardware.onednn:
    return 'fp32', ('auto: TensorFlow\'s oneDNN ops are off '
                    '(TF_ENABLE_ONEDNN_OPTS), so it would skip the bf16 '
                    'rewrite')
  if speedup is None:
    return 'fp32', ('auto: bf16 on %s is not measured for %s; '
                    '--precision=bf16 tries it' % (name, model_name))
  if speedup > 1.0:
    return 'bf16', 'auto: %s trains %.1fx faster in bf16 on %s (measured)' % (
        model_name, speedup, name)
  return 'fp32', 'auto: %s is %s in bf16 on %s %s' % (
      model_name, _slower(speedup), name, _why(model_name, kind))


def session_config_for(precision, base_config=None, in_cluster=False):
  """A tf.ConfigProto that runs the graph in `precision`.

  Args:
    precision: 'fp32', 'bf16' or 'fp16' (a `choose` result, not 'auto').
    base_config: a ConfigProto to start from (copied, not changed).
    in_cluster: whether the session runs on TensorFlow's distributed
      runtime (a grpc:// master: parameter-server training). In bf16 the
      fused-op remapper is then turned off (see CLUSTER_BF16_NOTE).

  Returns:
    The ConfigProto with the graph rewrites of `precision` on and the
    others off.
  """
  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf
  from tensorflow.core.protobuf import rewriter_config_pb2
  if precision not in ('fp32', 'bf16', 'fp16'):
    raise ValueError('precision must be fp32, bf16 or fp16, got %r' %
                     precision)
  config = tf.ConfigProto()
  if base_config is not None:
    config.CopyFrom(base_config)
  toggle = rewriter_config_pb2.RewriterConfig
  rewrite = config.graph_options.rewrite_options
  rewrite.auto_mixed_precision_onednn_bfloat16 = (
      toggle.ON if precision == 'bf16' else toggle.OFF)
  # OFF rather than the default: a process-wide
  # enable_mixed_precision_graph_rewrite() turns float16 on in every session
  # whose config does not say OFF.
  rewrite.auto_mixed_precision = (
      toggle.ON if precision == 'fp16' else toggle.OFF)
  if precision == 'bf16' and in_cluster:
    rewrite.remapping = toggle.OFF
  return config


def wrap_optimizer(precision, optimizer):
  """The training optimizer for `precision`: with fp16, `optimizer` wrapped
  in dynamic loss scaling; otherwise `optimizer` itself.

  Loss scaling multiplies the loss before the gradients are computed and
  divides the gradients after, so that small gradients do not underflow in
  float16; the dynamic scale halves (and the step is skipped, global step
  included) when a gradient is not finite, and doubles after 2000 finite
  steps.

  This is the wrapper `tf.compat.v1.mixed_precision.
  enable_mixed_precision_graph_rewrite` applies, without that function's
  process-wide switch, which would turn the float16 rewrite on in every
  later session of the process (an evaluation after training, tests). The
  session config (`session_config_for('fp16')`) turns it on here.

  The loss scale's two variables are made local: they are not saved, so a
  checkpoint has the same variables whatever the precision (a float32 run
  resumes an fp16 one and back), and a resumed fp16 run starts again from
  the initial scale, which adapts within a few steps.
  """
  if precision != 'fp16':
    return optimizer
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  global_variables = tf.get_collection_ref(tf.GraphKeys.GLOBAL_VARIABLES)
  before = set(id(v) for v in global_variables)
  wrapped = tf.mixed_precision.MixedPrecisionLossScaleOptimizer(
      optimizer, loss_scale='dynamic')
  created = [v for v in global_variables if id(v) not in before]
  for variable in created:
    global_variables.remove(variable)
    tf.add_to_collection(tf.GraphKeys.LOCAL_VARIABLES, variable)
  return wrapped
