"""Cell machinery shared by NASNet-A (nasnet.py) and PNASNet-5 (pnasnet.py).

research/slim's nets/nasnet/nasnet_utils.py: its names, plus the pieces
around the cells that both networks build (stem, auxiliary and classifier
heads).

A cell takes the outputs of the two previous cells, `net` (the latest) and
`prev_layer`, and builds five "combinations". Each combination applies one
operation to each of two hidden states chosen from the list
`[1x1(net), prev_layer, comb_0, comb_1, ...]` and adds the results. The cell
output is the channel concatenation of the hidden states no combination
marked as used in `used_hiddenstates`.

Operation names, as in the published architectures:
  'separable_KxK_N'   N stacked ReLU / KxK depthwise-separable conv / BN
  'avg_pool_KxK'      KxK average pooling ('SAME'), 1x1 conv if channels differ
  'max_pool_KxK'      KxK max pooling ('SAME'), 1x1 conv if channels differ
  'none'              identity, a strided 1x1 conv where shape must change

Scope and variable names (`comb_iter_0/left/separable_5x5_1/...`,
`beginning_bn`, `prev_1x1`, `path1_conv`, ...) reproduce the published
TF-Slim checkpoints exactly; do not rename them.

All helpers work on NHWC tensors, or NCHW ones when given
`data_format='NCHW'` (the cells take it in their constructor; the free
functions accept it as an argument or through `slim.arg_scope`). NCHW runs on
GPU only: TensorFlow's CPU kernels for several of these ops are NHWC-only.
research/slim's helpers insist on being given data_format (their default is
`INVALID`); these default to 'NHWC'.
"""

import contextlib
import copy

import tensorflow.compat.v1 as tf
import tf_slim as slim

arg_scope = slim.arg_scope

DATA_FORMAT_NHWC = 'NHWC'
DATA_FORMAT_NCHW = 'NCHW'
INVALID = 'null'  # research/slim's "not given" data_format.

# |activation| bound used by the optional bounded-activation variant.
CLIP_BY_VALUE_CAP = 6.0


class NasNetConfig(object):
  """Hyper-parameters of a NASNet / PNASNet build: a small mutable record.

  Fields used by the builders (all required):
    stem_multiplier: float, stem width = this times 32 (ImageNet) or times
      num_conv_filters (CIFAR).
    num_cells: int, number of normal cells (reduction cells are extra).
    num_conv_filters: int, per-branch filters of the first stage's cells.
    filter_scaling_rate: float, filter growth at each reduction.
    num_reduction_layers: int, how many reductions split the cell stack.
    skip_reduction_layer_input: 0/1, whether the cell after a reduction
      takes the cell before the reduction as its `prev_layer`.
    drop_path_keep_prob: float in (0, 1], final keep probability of drop
      path for the last cell (earlier cells and steps keep more).
    total_training_steps: int, steps over which drop path ramps up.
    dense_dropout_keep_prob: float, keep probability before the classifier.
    use_aux_head: 0/1, whether training builds the `AuxLogits` head.
    data_format: 'NHWC' (CPU and GPU) or 'NCHW' (GPU only).
    use_bounded_activation: bool, ReLU6 and clipping instead of ReLU.

  Mirrors the part of `tf.contrib.training.HParams` the published code used
  (`set_hparam`, `values`), so configs written for it keep working.
  """

  def __init__(self, **values):
    self.__dict__.update(values)

  def set_hparam(self, name, value):
    """Sets existing field `name`; raises ValueError for unknown names."""
    if name not in self.__dict__:
      raise ValueError('Unknown hyper-parameter %r; known: %s' %
                       (name, ', '.join(sorted(self.__dict__))))
    setattr(self, name, value)

  def values(self):
    """The fields as a new dict name -> value."""
    return dict(self.__dict__)

  def copy(self, **overrides):
    """A deep copy with `overrides` applied (each must be a known field)."""
    result = copy.deepcopy(self)
    for name, value in overrides.items():
      result.set_hparam(name, value)
    return result

  def __eq__(self, other):
    return isinstance(other, NasNetConfig) and self.values() == other.values()

  def __ne__(self, other):
    return not self == other

  def __repr__(self):
    return 'NasNetConfig(%s)' % ', '.join(
        '%s=%r' % item for item in sorted(self.__dict__.items()))


def published_config(**values):
  """A NasNetConfig: what the published NASNet and PNASNet configurations
  share (two reductions that double the filters, an auxiliary head, dense
  dropout 0.5, a 250000-step drop path ramp, NHWC, ReLU), with `values`
  added or replacing those."""
  shared = dict(filter_scaling_rate=2.0, num_reduction_layers=2,
                use_aux_head=1, dense_dropout_keep_prob=0.5,
                total_training_steps=250000, data_format=DATA_FORMAT_NHWC,
                use_bounded_activation=False)
  shared.update(values)
  return NasNetConfig(**shared)


def calc_reduction_layers(num_cells, num_reduction_layers):
  """Normal-cell indices before which a reduction cell (stride 2) is placed.

  The reductions split `num_cells` into `num_reduction_layers + 1` stages of
  (nearly) equal length, e.g. 18 cells and 2 reductions -> [6, 12].
  """
  return [int(float(k) / (num_reduction_layers + 1) * num_cells)
          for k in range(1, num_reduction_layers + 1)]


@slim.add_arg_scope
def get_channel_index(data_format=DATA_FORMAT_NHWC):
  """Axis of the channels in a 4-D tensor of `data_format`."""
  _check_data_format(data_format)
  return 3 if data_format == DATA_FORMAT_NHWC else 1


@slim.add_arg_scope
def get_channel_dim(shape, data_format=DATA_FORMAT_NHWC):
  """Static number of channels of a 4-D `shape` (TensorShape or list)."""
  shape = tf.TensorShape(shape)
  if shape.rank != 4:
    raise ValueError('Expected a 4-D shape, got %s' % shape)
  return int(shape[get_channel_index(data_format=data_format)])


def _spatial_dims(shape, data_format):
  """Static (height, width) of a 4-D `shape`."""
  shape = tf.TensorShape(shape).as_list()
  if data_format == DATA_FORMAT_NHWC:
    return shape[1], shape[2]
  return shape[2], shape[3]


def _check_data_format(data_format):
  if data_format not in (DATA_FORMAT_NHWC, DATA_FORMAT_NCHW):
    raise ValueError('data_format must be NHWC or NCHW, got %r' % data_format)


@slim.add_arg_scope
def global_avg_pool(x, data_format=DATA_FORMAT_NHWC):
  """Mean over the spatial axes: [batch, H, W, C] -> [batch, C]."""
  _check_data_format(data_format)
  axes = [1, 2] if data_format == DATA_FORMAT_NHWC else [2, 3]
  return tf.reduce_mean(x, axes)


def _conv1x1(net, num_outputs, scope, stride=1):
  """Bias-free linear 1x1 convolution (batch norm follows separately)."""
  return slim.conv2d(net, num_outputs, [1, 1], stride=stride,
                     activation_fn=None, normalizer_fn=None,
                     biases_initializer=None, scope=scope)


def _batch_norm(net, scope):
  """Batch norm with a learned scale (`gamma`), as in all NASNet models."""
  return slim.batch_norm(net, scale=True, center=True, activation_fn=None,
                         scope=scope)


@slim.add_arg_scope
def factorized_reduction(net, output_filters, stride,
                         data_format=DATA_FORMAT_NHWC):
  """Projects `net` to `output_filters` channels, halving H and W if stride 2.

  Stride 1 is a plain 1x1 conv + BN (`path_conv`, `path_bn`). Stride 2 uses
  two 1x1 convs on the even pixels and on the pixels shifted by one (zero
  beyond the border), each with half of the filters (the second takes the
  odd one), then concatenates them and applies BN (`path1_conv`,
  `path2_conv`, `final_path_bn`). This keeps every input pixel's information,
  which a single strided 1x1 conv would drop.

  Args:
    net: Tensor [batch, H, W, C] (or NCHW).
    output_filters: int, output channels.
    stride: 1 or 2.
    data_format: 'NHWC' or 'NCHW'.

  Returns:
    Tensor [batch, ceil(H / stride), ceil(W / stride), output_filters].
  """
  _check_data_format(data_format)
  if stride == 1:
    net = _conv1x1(net, output_filters, scope='path_conv')
    return _batch_norm(net, scope='path_bn')
  if stride != 2:
    raise ValueError('factorized_reduction supports stride 1 or 2, got %r' %
                     stride)
  if data_format == DATA_FORMAT_NHWC:
    even = net[:, ::2, ::2, :]
    padded = tf.pad(net, [[0, 0], [0, 1], [0, 1], [0, 0]])
    shifted = padded[:, 1::2, 1::2, :]
  else:
    even = net[:, :, ::2, ::2]
    padded = tf.pad(net, [[0, 0], [0, 0], [0, 1], [0, 1]])
    shifted = padded[:, :, 1::2, 1::2]
  half = output_filters // 2
  path1 = _conv1x1(even, half, scope='path1_conv')
  path2 = _conv1x1(shifted, output_filters - half, scope='path2_conv')
  net = tf.concat([path1, path2],
                  axis=get_channel_index(data_format=data_format))
  return _batch_norm(net, scope='final_path_bn')


@slim.add_arg_scope
def drop_path(net, keep_prob, is_training=True):
  """Zeroes whole examples of `net` with probability 1 - keep_prob.

  Kept examples are scaled by 1 / keep_prob so the expectation is unchanged.
  Outside training it is the identity.

  Args:
    net: Tensor [batch, ...].
    keep_prob: float or scalar float Tensor in (0, 1].
    is_training: whether to drop.

  Returns:
    Tensor shaped like `net`.
  """
  if not is_training:
    return net
  with tf.name_scope('drop_path'):
    keep_prob = tf.cast(keep_prob, net.dtype)
    noise_shape = tf.concat(
        [tf.shape(net)[:1], tf.ones([net.shape.rank - 1], tf.int32)], 0)
    keep = tf.floor(keep_prob + tf.random_uniform(noise_shape,
                                                  dtype=net.dtype))
    return net * (keep / keep_prob)


def drop_path_keep_prob(final_keep_prob, cell_num, total_num_cells,
                        total_training_steps, current_step=None):
  """Keep probability of drop path in cell `cell_num` at `current_step`.

  The drop probability 1 - final_keep_prob grows linearly with depth (cell
  `cell_num` of `total_num_cells` gets the fraction (cell_num + 1) /
  total_num_cells of it) and with training progress (current_step /
  total_training_steps, capped at 1). So at step 0 nothing is dropped.

  Args:
    final_keep_prob: float, keep probability of the last cell at the end of
      the ramp.
    cell_num: int >= 0, the cell's position counting stem cells.
    total_num_cells: int, all cells of the network (stem and reduction ones
      included).
    total_training_steps: int, steps until the full drop rate is reached.
    current_step: scalar Tensor (or number); None reads the graph's global
      step (creating it if needed).

  Returns:
    scalar float32 Tensor.
  """
  if cell_num < 0:
    raise ValueError('drop path needs the cell number, got %r' % cell_num)
  layer_ratio = (cell_num + 1) / float(total_num_cells)
  layer_keep_prob = 1.0 - layer_ratio * (1.0 - final_keep_prob)
  if current_step is None:
    current_step = tf.train.get_or_create_global_step()
  with tf.name_scope('drop_path_keep_prob'):
    step_ratio = tf.minimum(
        1.0, tf.cast(current_step, tf.float32) / float(total_training_steps))
    return 1.0 - step_ratio * (1.0 - layer_keep_prob)


def _parse_operation(operation):
  """'separable_5x5_2' -> ('separable', 5, 2); 'max_pool_3x3' ->
  ('max_pool', 3, 1); 'none' -> ('none', 1, 1)."""
  if operation == 'none':
    return 'none', 1, 1
  parts = operation.split('_')
  try:
    if parts[0] == 'separable' and len(parts) == 3:
      kernel = int(parts[1].split('x')[0])
      return 'separable', kernel, int(parts[2])
    if parts[0] in ('avg', 'max') and parts[1] == 'pool' and len(parts) == 3:
      kernel = int(parts[2].split('x')[0])
      return parts[0] + '_pool', kernel, 1
  except ValueError:
    pass
  raise ValueError('Unknown cell operation %r' % operation)


class NasNetABaseCell(object):
  """A NASNet-style cell; subclasses fix the operations and wiring.

  Args (constructor):
    num_conv_filters: int, branch filters at filter_scaling 1.
    operations: 10 operation names, two per combination (left, right).
    used_hiddenstates: 7 flags, 1 where a hidden state is left out of the
      output concatenation.
    hiddenstate_indices: 10 indices into the hidden-state list, the inputs
      of each operation.
    drop_path_keep_prob: float, final keep probability (1.0 disables it).
    total_num_cells: int, all cells of the network, for the depth schedule.
    total_training_steps: int, for the step schedule.
    use_bounded_activation: ReLU6 and clipping to +-6 instead of ReLU.
    data_format: 'NHWC' or 'NCHW'.
  """

  def __init__(self, num_conv_filters, operations, used_hiddenstates,
               hiddenstate_indices, drop_path_keep_prob, total_num_cells,
               total_training_steps, use_bounded_activation=False,
               data_format=DATA_FORMAT_NHWC):
    if len(operations) != 10 or len(hiddenstate_indices) != 10:
      raise ValueError('A cell has 5 combinations of 2 operations each.')
    if len(used_hiddenstates) != 7:
      raise ValueError('A cell has 7 hidden states (2 inputs + 5 outputs).')
    _check_data_format(data_format)
    for operation in operations:
      _parse_operation(operation)
    self._num_conv_filters = num_conv_filters
    self._operations = list(operations)
    self._used_hiddenstates = list(used_hiddenstates)
    self._hiddenstate_indices = list(hiddenstate_indices)
    self._drop_path_keep_prob = drop_path_keep_prob
    self._total_num_cells = total_num_cells
    self._total_training_steps = total_training_steps
    self._use_bounded_activation = use_bounded_activation
    self._data_format = data_format
    # Per-call state, set by __call__.
    self._filter_size = None
    self._keep_prob = None

  def _activation(self, net):
    if self._use_bounded_activation:
      return tf.nn.relu6(net)
    return tf.nn.relu(net)

  def _clip(self, net):
    if self._use_bounded_activation:
      return tf.clip_by_value(net, -CLIP_BY_VALUE_CAP, CLIP_BY_VALUE_CAP)
    return net

  def _channels(self, net):
    return get_channel_dim(net.shape, data_format=self._data_format)

  def _spatial(self, net):
    return _spatial_dims(net.shape, self._data_format)

  def __call__(self, net, scope=None, filter_scaling=1, stride=1,
               prev_layer=None, cell_num=-1, current_step=None):
    """Builds the cell.

    Args:
      net: Tensor [batch, H, W, C], output of the previous cell.
      scope: variable scope of the cell (e.g. 'cell_3').
      filter_scaling: float, branch filters = int(num_conv_filters * this).
      stride: 2 for a reducing cell (applied to ops on the two inputs).
      prev_layer: Tensor, output of the cell before `net`'s (any spatial
        size that is H or 2H); None uses `net` itself.
      cell_num: int, position of the cell counting stem cells (drop path).
      current_step: scalar Tensor for the drop path schedule; None reads
        the global step.

    Returns:
      Tensor [batch, H / stride, W / stride, k * filters] where k is the
      number of unused hidden states.
    """
    self._filter_size = int(self._num_conv_filters * filter_scaling)
    layer_formats = [slim.conv2d, slim.separable_conv2d, slim.batch_norm,
                     slim.avg_pool2d, slim.max_pool2d]
    with tf.variable_scope(scope, 'cell', [net, prev_layer]), \
        slim.arg_scope(layer_formats, data_format=self._data_format):
      self._keep_prob = None
      if self._drop_path_keep_prob < 1.0:
        self._keep_prob = drop_path_keep_prob(
            self._drop_path_keep_prob, cell_num, self._total_num_cells,
            self._total_training_steps, current_step)
      states = self._cell_base(net, prev_layer)
      for comb in range(5):
        with tf.variable_scope('comb_iter_%d' % comb):
          outputs = []
          for side, pos in (('left', 2 * comb), ('right', 2 * comb + 1)):
            index = self._hiddenstate_indices[pos]
            with tf.variable_scope(side):
              outputs.append(self._apply_operation(
                  states[index], self._operations[pos], stride,
                  from_cell_input=index < 2))
          with tf.variable_scope('combine'):
            combined = outputs[0] + outputs[1]
            if self._use_bounded_activation:
              combined = tf.nn.relu6(combined)
          states.append(combined)
      with tf.variable_scope('cell_output'):
        return self._combine_unused_states(states)

  def _cell_base(self, net, prev_layer):
    """The two input hidden states: [1x1(net), prev_layer matched to it]."""
    prev_layer = self._match_prev_layer(prev_layer, net)
    net = self._activation(net)
    net = _conv1x1(net, self._filter_size, scope='1x1')
    net = _batch_norm(net, scope='beginning_bn')
    return [net, prev_layer]

  def _match_prev_layer(self, prev_layer, net):
    """Brings `prev_layer` to the spatial size of `net` and filter_size."""
    if prev_layer is None:
      return net
    if self._spatial(prev_layer) != self._spatial(net):
      prev_layer = self._activation(prev_layer)
      return factorized_reduction(prev_layer, self._filter_size, stride=2,
                                  data_format=self._data_format)
    if self._channels(prev_layer) != self._filter_size:
      prev_layer = self._activation(prev_layer)
      prev_layer = _conv1x1(prev_layer, self._filter_size, scope='prev_1x1')
      return _batch_norm(prev_layer, scope='prev_bn')
    return prev_layer

  def _apply_operation(self, net, operation, stride, from_cell_input):
    """One branch: `operation` on hidden state `net`, then drop path."""
    if not from_cell_input:
      stride = 1  # Only the cell inputs are at the higher resolution.
    kind, kernel, num_layers = _parse_operation(operation)
    filters = self._filter_size
    input_filters = self._channels(net)
    if kind == 'separable':
      for layer in range(1, num_layers + 1):
        net = self._activation(net)
        net = slim.separable_conv2d(
            net, filters, [kernel, kernel], depth_multiplier=1,
            stride=stride if layer == 1 else 1, activation_fn=None,
            normalizer_fn=None, biases_initializer=None,
            scope='separable_{0}x{0}_{1}'.format(kernel, layer))
        net = _batch_norm(net, scope='bn_sep_{0}x{0}_{1}'.format(kernel, layer))
      net = self._clip(net)
    elif kind == 'none':
      if self._use_bounded_activation:
        net = tf.nn.relu6(net)
      if stride > 1 or input_filters != filters:
        if not self._use_bounded_activation:
          net = tf.nn.relu(net)
        net = _conv1x1(net, filters, scope='1x1', stride=stride)
        net = _batch_norm(net, scope='bn_1')
        net = self._clip(net)
      return net  # The identity is never dropped.
    else:
      if self._use_bounded_activation:
        net = tf.nn.relu6(net)
      pool = slim.avg_pool2d if kind == 'avg_pool' else slim.max_pool2d
      net = pool(net, [kernel, kernel], stride=stride, padding='SAME')
      if input_filters != filters:
        net = _conv1x1(net, filters, scope='1x1')
        net = _batch_norm(net, scope='bn_1')
      net = self._clip(net)
    if self._keep_prob is not None:
      net = drop_path(net, self._keep_prob)
    return net

  def _combine_unused_states(self, states):
    """Concatenates the unused states, first matched to the last one."""
    final = states[-1]
    final_spatial = self._spatial(final)
    final_filters = self._channels(final)
    to_concat = []
    for index, (state, used) in enumerate(zip(states,
                                              self._used_hiddenstates)):
      if used:
        continue
      same_size = self._spatial(state) == final_spatial
      if not same_size or self._channels(state) != final_filters:
        with tf.variable_scope('reduction_%d' % index):
          state = factorized_reduction(state, final_filters,
                                       stride=1 if same_size else 2,
                                       data_format=self._data_format)
      to_concat.append(state)
    return tf.concat(to_concat,
                     axis=get_channel_index(data_format=self._data_format))


class PublishedCell(NasNetABaseCell):
  """A cell of a published architecture: the subclass fixes its operations
  and wiring (class attributes OPERATIONS, USED_HIDDENSTATES,
  HIDDENSTATE_INDICES); the constructor takes research/slim's arguments."""

  OPERATIONS = ()
  USED_HIDDENSTATES = ()
  HIDDENSTATE_INDICES = ()

  def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells,
               total_training_steps, use_bounded_activation=False,
               data_format=DATA_FORMAT_NHWC):
    super(PublishedCell, self).__init__(
        num_conv_filters, self.OPERATIONS, self.USED_HIDDENSTATES,
        self.HIDDENSTATE_INDICES, drop_path_keep_prob, total_num_cells,
        total_training_steps, use_bounded_activation=use_bounded_activation,
        data_format=data_format)


class NasNetANormalCell(PublishedCell):
  """The NASNet-A normal cell (stride 1; output 6 x filters channels)."""

  OPERATIONS = ('separable_5x5_2', 'separable_3x3_2',
                'separable_5x5_2', 'separable_3x3_2',
                'avg_pool_3x3', 'none',
                'avg_pool_3x3', 'avg_pool_3x3',
                'separable_3x3_2', 'none')
  USED_HIDDENSTATES = (1, 0, 0, 0, 0, 0, 0)
  HIDDENSTATE_INDICES = (0, 1, 1, 1, 0, 1, 1, 1, 0, 0)


class NasNetAReductionCell(PublishedCell):
  """The NASNet-A reduction cell (stride 2; output 4 x filters channels)."""

  OPERATIONS = ('separable_5x5_2', 'separable_7x7_2',
                'max_pool_3x3', 'separable_7x7_2',
                'avg_pool_3x3', 'separable_5x5_2',
                'none', 'avg_pool_3x3',
                'separable_3x3_2', 'max_pool_3x3')
  USED_HIDDENSTATES = (1, 1, 1, 0, 0, 0, 0)
  HIDDENSTATE_INDICES = (0, 1, 0, 1, 0, 1, 3, 2, 2, 0)


# ---------------------------------------------------------------------------
# Pieces of the network around the cells, shared by NASNet and PNASNet.
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def network_arg_scope(is_training, data_format):
  """arg_scope fixing training mode and data format for a whole network."""
  _check_data_format(data_format)
  with slim.arg_scope([slim.dropout, slim.batch_norm, drop_path],
                      is_training=is_training):
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d, slim.batch_norm,
                         slim.avg_pool2d, slim.max_pool2d,
                         factorized_reduction, global_avg_pool,
                         get_channel_index, get_channel_dim],
                        data_format=data_format) as scope:
      yield scope


def prepare_images(images, config):
  """Transposes NHWC `images` to NCHW when the config asks for it."""
  if config.data_format == DATA_FORMAT_NCHW:
    return tf.transpose(images, [0, 3, 1, 2])
  return images


def training_config(config, is_training):
  """Copy of `config`; outside training drop path is switched off."""
  config = copy.deepcopy(config)
  if not is_training:
    config.set_hparam('drop_path_keep_prob', 1.0)
  return config


def imagenet_stem(inputs, hparams, stem_cell, current_step=None,
                  num_stem_cells=2):
  """3x3/2 conv + BN, then `num_stem_cells` stride-2 cells.

  Args:
    inputs: Tensor [batch, H, W, 3] (NCHW if hparams.data_format says so).
    hparams: NasNetConfig (stem_multiplier, filter_scaling_rate).
    stem_cell: a cell object, called with stride 2.
    current_step: drop path schedule step (None: the global step).
    num_stem_cells: int.

  Returns:
    (net [batch, ~H / 8, ~W / 8, C], cell_outputs list: [None, conv0 output,
    stem cell outputs...]).
  """
  num_stem_filters = int(32 * hparams.stem_multiplier)
  net = slim.conv2d(inputs, num_stem_filters, [3, 3], stride=2,
                    padding='VALID', activation_fn=None, normalizer_fn=None,
                    biases_initializer=None, scope='conv0')
  net = _batch_norm(net, scope='conv0_bn')
  cell_outputs = [None, net]
  filter_scaling = 1.0 / hparams.filter_scaling_rate ** num_stem_cells
  for cell_num in range(num_stem_cells):
    net = stem_cell(net, scope='cell_stem_%d' % cell_num,
                    filter_scaling=filter_scaling, stride=2,
                    prev_layer=cell_outputs[-2], cell_num=cell_num,
                    current_step=current_step)
    cell_outputs.append(net)
    filter_scaling *= hparams.filter_scaling_rate
  return net, cell_outputs


def activation_for(config):
  return tf.nn.relu6 if config.use_bounded_activation else tf.nn.relu


def aux_head(net, end_points, num_classes, hparams, scope):
  """Auxiliary classifier; stores `end_points['AuxLogits']` [batch, classes].

  5x5/3 average pooling, 1x1 conv to 128 + BN + ReLU, a conv covering the
  whole remaining map to 768 + BN + ReLU, then a fully connected layer.

  Args:
    net: Tensor [batch, H, W, C] (already activated), H and W >= 5.
    end_points: dict to update.
    num_classes: int.
    hparams: NasNetConfig (data_format, use_bounded_activation).
    scope: variable scope (e.g. 'aux_11').
  """
  activation_fn = activation_for(hparams)
  with tf.variable_scope(scope):
    aux = tf.identity(net)
    with tf.variable_scope('aux_logits'):
      aux = slim.avg_pool2d(aux, [5, 5], stride=3, padding='VALID')
      aux = _conv1x1(aux, 128, scope='proj')
      aux = activation_fn(_batch_norm(aux, scope='aux_bn0'))
      kernel = list(_spatial_dims(aux.shape, hparams.data_format))
      aux = slim.conv2d(aux, 768, kernel, padding='VALID', activation_fn=None,
                        normalizer_fn=None, biases_initializer=None,
                        scope='Conv')
      aux = activation_fn(_batch_norm(aux, scope='aux_bn1'))
      aux = slim.flatten(aux)
      aux = slim.fully_connected(aux, num_classes, activation_fn=None,
                                 normalizer_fn=None, scope='FC')
  end_points['AuxLogits'] = aux


class EndPoints(object):
  """Collects end points and tells when `final_endpoint` has been reached."""

  def __init__(self, final_endpoint, valid_names):
    if final_endpoint is not None and final_endpoint not in valid_names:
      raise ValueError('Unknown final_endpoint %r; valid: %s' %
                       (final_endpoint, ', '.join(valid_names)))
    self.final_endpoint = final_endpoint
    self.end_points = {}

  def add(self, name, net):
    """Records `net` as `name`; True when the build should stop here."""
    self.end_points[name] = net
    return name == self.final_endpoint


def classifier_head(net, ends, num_classes, config, is_training):
  """ReLU, global average pool, dropout, fully connected layer, softmax.

  Under scope `final_layer` (`final_layer/FC/weights`, `.../biases`).

  Returns:
    (output, end_points): the logits [batch, num_classes]; the pooled
    features [batch, C] when num_classes is 0/None or final_endpoint is
    'global_pool'; the tensor of final_endpoint when it is reached.
  """
  with tf.variable_scope('final_layer'):
    net = activation_for(config)(net)
    net = global_avg_pool(net, data_format=config.data_format)
    if ends.add('global_pool', net) or not num_classes:
      return net, ends.end_points
    net = slim.dropout(net, config.dense_dropout_keep_prob,
                       is_training=is_training, scope='dropout')
    logits = slim.fully_connected(net, num_classes, activation_fn=None,
                                  normalizer_fn=None, scope='FC')
    if ends.add('Logits', logits):
      return logits, ends.end_points
    predictions = tf.nn.softmax(logits, name='predictions')
    if ends.add('Predictions', predictions):
      return predictions, ends.end_points
  return logits, ends.end_points
