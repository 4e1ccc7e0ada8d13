"""Training past one device: the same epochs under `tf.distribute`.

Which strategy:
- `TF_CONFIG` describing a cluster of more than one worker: MultiWorkerMirroredStrategy,
  every worker running the same command (TensorFlow reads its role from TF_CONFIG);
- otherwise MirroredStrategy over all local GPUs, or over the logical CPUs when the CPU has
  been split (`--logical-cpus N`, which is how the tests exercise it on a CPU-only machine).

Batch size and learning rate: each replica keeps the tutorial's batch of 32, so the global
batch is 32 x replicas, and the learning rate is scaled by the same factor (the linear
scaling rule of Goyal et al., 2017: the same number of images moves the weights about as
far). Scaling is off with `--no-scale-lr` for those who tune it by hand.
"""

from __future__ import annotations

import json
import os

from cnnviz.backend import tf


def split_cpu(n: int) -> None:
    """Present the CPU as `n` logical devices; must run before TensorFlow touches a device."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def _workers_in_cluster() -> int:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return len(config.get("cluster", {}).get("worker", []))


def choose_strategy() -> tf.distribute.Strategy:
    if _workers_in_cluster() > 1:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    cpus = tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in cpus])


def scaled(batch_per_replica: int, learning_rate: float, replicas: int, scale_lr: bool = True) -> tuple[int, float]:
    """(global batch, learning rate) for `replicas` replicas under the linear scaling rule."""
    return batch_per_replica * replicas, learning_rate * replicas if scale_lr else learning_rate
