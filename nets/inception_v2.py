"""Inception v2 (BN-Inception) of the TF-Slim model zoo over tf_slim.nets.

Variables match the published checkpoint (scope `InceptionV2`); input
[batch, 224, 224, 3], logits [batch, num_classes]. Adds the `AvgPool_1a` and
`PreLogits` end points [batch, 1, 1, 1024] and num_classes=0/None -> pooled
features.
"""

from tf_slim.nets import inception_v2 as _v2

from slimvision.nets.slim_wrappers import inception_network

inception_v2_arg_scope = _v2.inception_v2_arg_scope
inception_v2_base = _v2.inception_v2_base
inception_v2 = inception_network(
    _v2.inception_v2, _v2.inception_v2_base, 'InceptionV2',
    {'AvgPool': 'AvgPool_1a', 'Dropout': 'PreLogits'})
