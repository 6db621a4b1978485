"""OverFeat (fast) of the TF-Slim model zoo: tf_slim.nets.overfeat, unchanged.

Variables and end points already match the published checkpoint (scope
`overfeat`); input [batch, 231, 231, 3], logits [batch, num_classes].
The network has no feature-only mode: `num_classes` must be positive.
"""

from tf_slim.nets import overfeat as _overfeat

from slimvision.nets.slim_wrappers import require_classes

overfeat_arg_scope = _overfeat.overfeat_arg_scope
# tf_slim does not set the size; OverFeat needs 231 for 1x1 logits.
overfeat = require_classes(_overfeat.overfeat, 231)
