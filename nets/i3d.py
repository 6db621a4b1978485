"""I3D: Inception v1 inflated to 3-D (scope `InceptionV1`).

Carreira and Zisserman, "Quo Vadis, Action Recognition? A New Model and the
Kinetics Dataset", https://arxiv.org/abs/1705.07750. Input
[batch, frames, 224, 224, 3]; the first convolution is 7x7x7 (stride 2),
every 3x3 convolution from Conv2d_2c_3x3 on is a full 3x3x3, and there is
no gating. The trunk is `s3dg.s3dg_base` with those settings; for 16 frames
Mixed_5c is [b, 2, 7, 7, 1024].
"""

import tensorflow.compat.v1 as tf
import tf_slim as slim

from slimvision.nets import i3d_utils
from slimvision.nets import s3dg

# research/slim's i3d names for the shared pieces.
trunc_normal = s3dg.trunc_normal
conv3d_spatiotemporal = i3d_utils.conv3d_spatiotemporal


def i3d_base(inputs, final_endpoint='Mixed_5c', scope='InceptionV1'):
  """The I3D trunk up to `final_endpoint` (NDHWC); see `s3dg.s3dg_base`."""
  return s3dg.s3dg_base(
      inputs, first_temporal_kernel_size=7,
      temporal_conv_startat='Conv2d_2c_3x3', gating_startat=None,
      final_endpoint=final_endpoint, scope=scope)


def i3d(inputs, num_classes=1000, dropout_keep_prob=0.8, is_training=True,
        prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None,
        scope='InceptionV1', final_endpoint='Mixed_5c'):
  """I3D for video classification.

  Args:
    inputs: float Tensor [batch, frames, 224, 224, 3] (fewer or smaller
      frames work; at least 8 frames of 32x32 for Mixed_5c).
    num_classes: logits width; 0 or None returns the time-averaged pooled
      features [batch, 1024] (end point `global_pool`).
    dropout_keep_prob: keep probability of the dropout before the logits.
    is_training: whether batch norm and dropout run in training mode.
    prediction_fn: maps logits to the `Predictions` end point.
    spatial_squeeze: logits [batch, num_classes] if True, else
      [batch, 1, 1, num_classes].
    reuse: whether to reuse the variables of `scope`.
    scope: variable scope.
    final_endpoint: last trunk end point before the head (after
      research/slim's parameters, which code may pass by position).

  Returns:
    (logits, end_points dict name -> Tensor).
  """
  with tf.variable_scope(scope, 'InceptionV1', [inputs],
                         reuse=reuse) as scope:
    with slim.arg_scope([slim.batch_norm, slim.dropout],
                        is_training=is_training):
      net, end_points = i3d_base(inputs, final_endpoint=final_endpoint,
                                 scope=scope)
      return i3d_utils.inception_v1_3d_logits(
          net, end_points, num_classes, dropout_keep_prob, spatial_squeeze,
          prediction_fn, 'NDHWC')


i3d.default_image_size = 224


def i3d_arg_scope(weight_decay=1e-7, batch_norm_decay=0.999,
                  batch_norm_epsilon=0.001, use_renorm=False,
                  separable_conv3d=False):
  """I3D arg_scope: see `i3d_utils.video_arg_scope` (full 3-D convs)."""
  return i3d_utils.video_arg_scope(
      weight_decay=weight_decay, batch_norm_decay=batch_norm_decay,
      batch_norm_epsilon=batch_norm_epsilon, use_renorm=use_renorm,
      separable_conv3d=separable_conv3d)
