"""VGG A/16/19 of the TF-Slim model zoo: tf_slim.nets.vgg, unchanged.

Variables and end points already match the published checkpoints (scopes
`vgg_a`, `vgg_16`, `vgg_19`); input [batch, 224, 224, 3], logits
[batch, num_classes]. No feature-only mode: `num_classes` must be positive.
"""

from tf_slim.nets import vgg as _vgg

from slimvision.nets.slim_wrappers import require_classes

vgg_arg_scope = _vgg.vgg_arg_scope
vgg_a = require_classes(_vgg.vgg_a, 224)
vgg_16 = require_classes(_vgg.vgg_16, 224)
vgg_19 = require_classes(_vgg.vgg_19, 224)
