"""Inception v3 of the TF-Slim model zoo over tf_slim.nets.

Variables match the published checkpoint (scope `InceptionV3`, with
`AuxLogits`); input [batch, 299, 299, 3], logits [batch, num_classes]. Adds
the `AvgPool_1a` end point [batch, 1, 1, 2048] and num_classes=0/None ->
pooled features (no logits or auxiliary-logits variables).
"""

from tf_slim.nets import inception_v3 as _v3

from slimvision.nets.slim_wrappers import inception_network

inception_v3_arg_scope = _v3.inception_v3_arg_scope
inception_v3_base = _v3.inception_v3_base
inception_v3 = inception_network(_v3.inception_v3, _v3.inception_v3_base,
                                 'InceptionV3', {'AvgPool': 'AvgPool_1a'})
