"""engines/optimization.py: the learning-rate schedules and optimizers."""

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from slimvision.core.errors import UserError
from slimvision.engines import optimization
from slimvision.engines.config import OPTIMIZERS, TrainConfig


def _rates(decay_type, steps, **kwargs):
  with tf.Graph().as_default():
    step = tf.placeholder(tf.int64, [])
    rate = optimization.learning_rate(step, decay_type, 0.1, decay_steps=100,
                                  **kwargs)
    with tf.Session() as sess:
      return [sess.run(rate, {step: s}) for s in steps]


def test_exponential_schedule_is_staircase():
  rates = _rates('exponential', [0, 99, 100, 250], decay_factor=0.5)
  np.testing.assert_allclose(rates, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)


def test_polynomial_schedule_is_linear_to_the_end_rate():
  rates = _rates('polynomial', [0, 50, 100, 400], end_rate=0.02)
  np.testing.assert_allclose(rates, [0.1, 0.06, 0.02, 0.02], rtol=1e-6)


def test_fixed_schedule_and_warmup():
  np.testing.assert_allclose(_rates('fixed', [0, 1000]), [0.1, 0.1])
  rates = _rates('fixed', [0, 5, 10, 20], warmup_steps=10)
  np.testing.assert_allclose(rates, [0.0, 0.05, 0.1, 0.1], rtol=1e-6)


def test_cosine_schedule_with_warmup_ends_at_the_end_rate():
  rates = _rates('cosine', [0, 10, 60, 110, 200], end_rate=0.02,
                 warmup_steps=10, total_steps=110)
  # Warm-up to 0.1 at step 10, half-way (0.06) at 60, 0.02 from 110 on.
  np.testing.assert_allclose(rates, [0.0, 0.1, 0.06, 0.02, 0.02], rtol=1e-5)
  with pytest.raises(UserError, match='cosine needs --max_number_of_steps'):
    _rates('cosine', [0])


def test_unknown_decay_and_optimizer_names_list_the_valid_ones():
  with pytest.raises(UserError, match='exponential, fixed, polynomial'):
    _rates('staircase', [0])
  with pytest.raises(UserError, match='adadelta, adagrad, adam'):
    optimization.optimizer(TrainConfig(optimizer='lamb'), 0.1)


@pytest.mark.parametrize('name', OPTIMIZERS)
def test_each_optimizer_takes_a_step_that_lowers_the_loss(name):
  with tf.Graph().as_default():
    weights = tf.Variable([3.0, -2.0])
    loss = tf.reduce_sum(tf.square(weights))
    step = optimization.optimizer(TrainConfig(optimizer=name), 0.1).minimize(
        loss, global_step=tf.train.get_or_create_global_step())
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      before = sess.run(loss)
      for _ in range(3):
        sess.run(step)
      assert sess.run(loss) < before
      assert sess.run(tf.train.get_global_step()) == 3
