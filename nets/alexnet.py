"""AlexNet v2 of the TF-Slim model zoo: tf_slim.nets.alexnet, unchanged.

Variables and end points already match the published checkpoint (scope
`alexnet_v2`); input [batch, 224, 224, 3], logits [batch, num_classes].
The network has no feature-only mode: `num_classes` must be positive.
"""

from tf_slim.nets import alexnet as _alexnet

from slimvision.nets.slim_wrappers import require_classes

alexnet_v2_arg_scope = _alexnet.alexnet_v2_arg_scope
alexnet_v2 = require_classes(_alexnet.alexnet_v2, 224)
