"""LazyAdam: Keras' Adam on the rows a sparse gradient names, nothing elsewhere."""
import numpy as np
import tensorflow as tf
import tf_keras as keras

from models.lazy_adam import LazyAdam

START = np.arange(24, dtype=np.float32).reshape(6, 4) / 10 + 0.5


def _sparse_steps(optimizer, table, steps):
  """One step per list of rows: loss = sum of the squares of the rows gathered."""
  for rows in steps:
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.gather(table, rows) ** 2)
    grad = tape.gradient(loss, table)
    assert isinstance(grad, tf.IndexedSlices)
    optimizer.apply_gradients([(grad, table)])


def _dense_adam(start_row, loss_weights):
  """Keras' Adam on one row alone, one step per loss weight."""
  row, adam = tf.Variable(start_row), keras.optimizers.Adam(0.1)
  for weight in loss_weights:
    with tf.GradientTape() as tape:
      loss = weight * tf.reduce_sum(row ** 2)
    adam.apply_gradients([(tape.gradient(loss, row), row)])
  return row.numpy()


def test_used_rows_follow_adam_and_a_row_left_out_stops_moving():
  steps = [[0, 1]] + [[0, 2]] * 4          # row 1 only in the first batch
  lazy, keras_adam = tf.Variable(START), tf.Variable(START)
  _sparse_steps(LazyAdam(0.1), lazy, steps)
  _sparse_steps(keras.optimizers.Adam(0.1), keras_adam, steps)
  np.testing.assert_allclose(lazy.numpy()[0], _dense_adam(START[0], [1] * 5), atol=1e-5)
  np.testing.assert_allclose(lazy.numpy()[1], _dense_adam(START[1], [1]), atol=1e-5)  # moved once, then kept
  assert not np.allclose(keras_adam.numpy()[1], lazy.numpy()[1], atol=1e-3)  # Keras' Adam kept moving it
  np.testing.assert_array_equal(lazy.numpy()[3:], START[3:])


def test_duplicate_rows_in_a_batch_are_summed():
  """Keras sums a row's duplicates before update_step; scatter_update needs unique rows."""
  lazy = tf.Variable(START)
  _sparse_steps(LazyAdam(0.1), lazy, [[1, 1], [1]])  # row 1 twice, then once
  np.testing.assert_allclose(lazy.numpy()[1], _dense_adam(START[1], [2, 1]), atol=1e-5)


def test_dense_gradients_are_keras_adam():
  a, b = tf.Variable([1.0, -2.0]), tf.Variable([1.0, -2.0])
  lazy, adam = LazyAdam(0.05), keras.optimizers.Adam(0.05)
  for _ in range(3):
    for optimizer, variable in ((lazy, a), (adam, b)):
      with tf.GradientTape() as tape:
        loss = tf.reduce_sum(variable ** 2)
      optimizer.apply_gradients([(tape.gradient(loss, variable), variable)])
  np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
