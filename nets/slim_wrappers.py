"""Adapters that fit the tf_slim.nets networks to the model-zoo conventions.

tf_slim.nets builds the published TF-Slim architectures with the right
variable names, but its network functions differ from the model zoo in a few
end points and options. These helpers close the gap without touching the
variables (creation order included), so the checkpoints still restore:

  * `require_classes`: AlexNet, OverFeat and VGG have no feature-only mode;
    a clear error replaces a zero-width logits layer.
  * `inception_network`: Inception v1-v3 gain the pooled-features end point
    (`AvgPool_0a_7x7` / `AvgPool_1a`) and `num_classes=0/None` -> features.
  * `resnet_network`: ResNet v1/v2 gain `global_pool`, `spatial_squeeze`
    (logits [batch, num_classes] instead of [batch, 1, 1, num_classes]) and
    the `<scope>/logits`, `<scope>/spatial_squeeze` end points.
"""

import functools

import tensorflow.compat.v1 as tf
import tf_slim as slim


def require_classes(network_fn, default_image_size):
  """Wraps `network_fn` so that num_classes=0/None raises a ValueError."""

  @functools.wraps(network_fn)
  def network(inputs, num_classes=1000, **kwargs):
    if not num_classes:
      raise ValueError('%s has no feature-only mode; num_classes must be '
                       'positive, got %r' % (network_fn.__name__, num_classes))
    return network_fn(inputs, num_classes=num_classes, **kwargs)

  network.default_image_size = default_image_size
  return network


def _inception_features(base_fn, default_scope, inputs, is_training,
                        reuse=None, scope=None, min_depth=None,
                        depth_multiplier=None, **unused_head_kwargs):
  """The base network and a global average pool: [batch, 1, 1, depth]."""
  base_kwargs = {}
  if min_depth is not None:
    base_kwargs['min_depth'] = min_depth
  if depth_multiplier is not None:
    base_kwargs['depth_multiplier'] = depth_multiplier
  with tf.variable_scope(scope, default_scope, [inputs], reuse=reuse) as sc:
    with slim.arg_scope([slim.batch_norm, slim.dropout],
                        is_training=is_training):
      net, end_points = base_fn(inputs, scope=sc, **base_kwargs)
    with tf.variable_scope('Logits'):
      net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
  end_points['global_pool'] = net
  return net, end_points


def inception_network(network_fn, base_fn, default_scope, head_end_points):
  """Wraps a tf_slim Inception v1-v3 network function.

  Args:
    network_fn: e.g. tf_slim.nets.inception_v1.inception_v1.
    base_fn: the matching `inception_vN_base`.
    default_scope: its variable scope, e.g. 'InceptionV1'.
    head_end_points: {layer-name prefix: end-point name}: which outputs of
      the head's (scope `Logits`) average pool and dropout to publish.

  Returns:
    network(inputs, num_classes=1000, is_training=True, **kwargs) ->
    (logits [batch, num_classes], end_points), taking network_fn's keyword
    arguments. With num_classes 0 or None it returns the globally pooled
    features [batch, 1, 1, depth] (end point `global_pool`) and creates no
    logits (nor auxiliary logits) variables.
  """

  @functools.wraps(network_fn)
  def network(inputs, num_classes=1000, is_training=True, **kwargs):
    if not num_classes:
      return _inception_features(base_fn, default_scope, inputs, is_training,
                                 **kwargs)
    # tf_slim does not publish all of the head's outputs; collect the pool
    # and dropout outputs while it builds and pick those under Logits/.
    collection = tf.get_default_graph().unique_name('slimvision_head_outputs')
    with slim.arg_scope([slim.avg_pool2d, slim.dropout],
                        outputs_collections=collection):
      logits, end_points = network_fn(
          inputs, num_classes=num_classes, is_training=is_training, **kwargs)
    for output in tf.get_collection(collection):
      parent, _, layer = output.aliases[-1].rpartition('/')
      for prefix, end_point in head_end_points.items():
        if parent.endswith('Logits') and layer.startswith(prefix):
          end_points[end_point] = output
    return logits, end_points

  return network


def resnet_network(network_fn, default_scope):
  """Wraps a tf_slim `resnet_vN_<depth>` function.

  Returns:
    network(inputs, num_classes=None, is_training=True, global_pool=True,
    output_stride=None, spatial_squeeze=True, reuse=None, scope=...) ->
    (net, end_points). With num_classes 0 or None, net is the last block's
    output [batch, h, w, 2048] (h = w = 1 after the global pool); otherwise
    logits [batch, num_classes] ([batch, h, w, num_classes] without
    spatial_squeeze).
  """

  def network(inputs, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, spatial_squeeze=True, reuse=None,
              scope=default_scope):
    with tf.variable_scope(scope, default_scope, [inputs],
                           reuse=reuse) as sc:
      net, end_points = network_fn(
          inputs, num_classes=None, is_training=is_training,
          global_pool=global_pool, output_stride=output_stride, scope=sc)
      if global_pool:
        end_points['global_pool'] = net
      if not num_classes:
        return net, end_points
      net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                        normalizer_fn=None, scope='logits')
      end_points[sc.name + '/logits'] = net
      if spatial_squeeze:
        net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
        end_points[sc.name + '/spatial_squeeze'] = net
      end_points['predictions'] = slim.softmax(net, scope='predictions')
    return net, end_points

  network.__name__ = network_fn.__name__
  network.__doc__ = network_fn.__doc__
  network.default_image_size = 224
  return network
