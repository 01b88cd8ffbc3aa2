/**
 * Knowledge-distillation loss (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural
 * Network"):
 *
 *   loss = α · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T)) + (1 − α) · CE(y, softmax(z_s))
 *
 * averaged over the batch. The T² keeps the soft term's gradients the same size whatever T is (the
 * gradient of the soft term scales as 1/T²). Everything is computed from logits with log-softmax,
 * so no probability is ever clipped.
 */
import * as tf from '@tensorflow/tfjs';

export interface DistillationLossOptions {
  /** Softmax temperature T > 0 of the soft term. */
  temperature: number;
  /** Weight α ∈ [0, 1] of the soft term; 1 − α weighs the hard-label term. */
  alpha: number;
}

export interface DistillationLossParts {
  /** α·soft + (1 − α)·hard. */
  loss: tf.Scalar;
  /** T² · mean KL(p_teacher^T ‖ p_student^T). */
  soft: tf.Scalar;
  /** Mean cross-entropy of the student (at T = 1) against the labels. */
  hard: tf.Scalar;
}

/**
 * T² · mean over the batch of KL(softmax(z_t/T) ‖ softmax(z_s/T)), from logits [batch, classes].
 */
export function softTargetLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  temperature: number,
): tf.Scalar {
  return tf.tidy(() => {
    const logTeacher = tf.logSoftmax(tf.div(teacherLogits, temperature));
    const logStudent = tf.logSoftmax(tf.div(studentLogits, temperature));
    const kl = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)), -1);
    return tf.mul<tf.Scalar>(tf.mean(kl), temperature * temperature);
  });
}

/** Mean softmax cross-entropy of logits [batch, classes] against int32 labels [batch]. */
export function hardLabelLoss(studentLogits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = studentLogits.shape[studentLogits.shape.length - 1]!;
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), classes);
    return tf.losses.softmaxCrossEntropy<tf.Tensor, tf.Scalar>(oneHot, studentLogits);
  });
}

/**
 * The distillation loss and its two parts. `labels` are int32 class indices [batch] (the dataset's
 * labels, or the teacher's top-1 predictions in teacher-only mode).
 */
export function distillationLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor,
  options: DistillationLossOptions,
): DistillationLossParts {
  const soft = softTargetLoss(studentLogits, teacherLogits, options.temperature);
  const hard = hardLabelLoss(studentLogits, labels);
  const loss = tf.tidy(() => tf.add<tf.Scalar>(tf.mul(soft, options.alpha), tf.mul(hard, 1 - options.alpha)));
  return { loss, soft, hard };
}
