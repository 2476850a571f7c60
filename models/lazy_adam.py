"""Adam that updates only the embedding rows a batch used.

The embedding modules' tables are large (the default's 2^19 x 64 bigram table and
30,523 x 384 word-piece table: 45 M parameters) and a batch of reviews touches a few
thousand of their rows. Their gradients arrive as tf.IndexedSlices, but Keras' Adam
decays both moment estimates and moves every row of the table on every step, so a
training step costs the size of the tables, not of the batch. This is the LazyAdam of
TensorFlow Addons (no longer maintained, no TF 2.21 build) for tf_keras: for a sparse
gradient, the moments and the variable are updated at the used rows only (Keras has
summed duplicate rows before update_step); dense gradients (the head) get Keras' Adam
unchanged. A row no batch touches keeps its moments until its
next use instead of decaying them, the usual trade for sparse tables.
"""
import tensorflow as tf
import tf_keras as keras


class LazyAdam(keras.optimizers.Adam):

  def update_step(self, gradient, variable):
    if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
      return super().update_step(gradient, variable)
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
    beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
    alpha = tf.cast(self.learning_rate, dtype) * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    epsilon = self.epsilon * tf.sqrt(1 - beta_2_power) if getattr(self, "adaptive_epsilon", False) else self.epsilon
    index = self._index_dict[self._var_key(variable)]
    m, v = self._momentums[index], self._velocities[index]

    rows, values = gradient.indices, gradient.values  # unique: Keras summed duplicate rows already
    m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
    v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(values)
    m.scatter_update(tf.IndexedSlices(m_rows, rows))
    v.scatter_update(tf.IndexedSlices(v_rows, rows))
    variable.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + epsilon), rows))
