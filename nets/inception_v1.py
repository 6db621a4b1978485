"""Inception v1 (GoogLeNet) of the TF-Slim model zoo over tf_slim.nets.

Variables match the published checkpoint (scope `InceptionV1`); input
[batch, 224, 224, 3], logits [batch, num_classes]. Adds the `AvgPool_0a_7x7`
end point [batch, 1, 1, 1024] and num_classes=0/None -> pooled features.
"""

from tf_slim.nets import inception_v1 as _v1

from slimvision.nets.slim_wrappers import inception_network

inception_v1_arg_scope = _v1.inception_v1_arg_scope
inception_v1_base = _v1.inception_v1_base
# tf_slim names the head's 7x7 average pool `MaxPool_0a_7x7` (no variables).
inception_v1 = inception_network(_v1.inception_v1, _v1.inception_v1_base,
                                 'InceptionV1', {'MaxPool': 'AvgPool_0a_7x7'})
