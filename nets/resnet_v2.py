"""ResNet v2 (pre-activation) 50/101/152/200 of the TF-Slim model zoo.

Built by tf_slim.nets.resnet_v2.

Variables match the published checkpoints (scopes `resnet_v2_<depth>`);
input [batch, 224, 224, 3], logits [batch, num_classes] (spatially squeezed,
with the `global_pool` end point as in the model zoo). num_classes=0/None
returns the pooled features [batch, 1, 1, 2048]. See
`slim_wrappers.resnet_network` for the arguments.
"""

from tf_slim.nets import resnet_utils as _utils
from tf_slim.nets import resnet_v2 as _v2

from slimvision.nets.slim_wrappers import resnet_network

resnet_arg_scope = _utils.resnet_arg_scope
resnet_v2_50 = resnet_network(_v2.resnet_v2_50, 'resnet_v2_50')
resnet_v2_101 = resnet_network(_v2.resnet_v2_101, 'resnet_v2_101')
resnet_v2_152 = resnet_network(_v2.resnet_v2_152, 'resnet_v2_152')
resnet_v2_200 = resnet_network(_v2.resnet_v2_200, 'resnet_v2_200')
