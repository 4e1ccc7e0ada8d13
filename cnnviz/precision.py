"""Which arithmetic training uses: bfloat16 where the hardware multiplies it natively, float32 elsewhere.

`mixed_bfloat16` keeps every weight in float32 but does the multiplications in bfloat16. On a
CPU with bfloat16 units (x86's AVX512_BF16 or AMX) that is 2-4 times faster; on one without,
TensorFlow emulates them and it is slower than float32. So `auto` asks the hardware, never the
CPU's name: the flags the Linux kernel lists for the CPU, and each GPU's compute capability
(bfloat16 tensor cores from 8.0, Ampere, on). A machine without /proc/cpuinfo (macOS, Windows)
trains in float32, exactly as before this choice existed.

Only training changes: validation, verdicts and every picture are computed in float32.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cnnviz.errors import CnnvizError

CHOICES = ("auto", "float32", "mixed_bfloat16")
CPU_BF16_FLAGS = {"avx512_bf16": "AVX512_BF16", "amx_bf16": "AMX"}  # /proc/cpuinfo flag -> its name
GPU_BF16_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class Precision:
    """A concrete precision (`float32` or `mixed_bfloat16`) and why, in a learner's words."""

    name: str
    reason: str

    @property
    def bfloat16(self) -> bool:
        return self.name == "mixed_bfloat16"


def choose(cpu_flags: Iterable[str], gpu_capabilities: Iterable[tuple[int, int]]) -> Precision:
    """The precision `auto` means on hardware with these CPU flags and GPUs (compute capabilities).

    With GPUs, they do the training, so they decide; otherwise the CPU's flags do.
    """
    gpus = list(gpu_capabilities)
    if gpus:
        if all(tuple(capability) >= GPU_BF16_CAPABILITY for capability in gpus):
            return Precision(
                "mixed_bfloat16",
                "this machine's GPU multiplies 16-bit bfloat16 numbers natively, several times faster than "
                "32-bit float32; the weights themselves stay float32",
            )
        return Precision("float32", "this machine's GPU has no bfloat16 units (compute capability below 8.0)")
    units = [name for flag, name in CPU_BF16_FLAGS.items() if flag in set(cpu_flags)]
    if units:
        return Precision(
            "mixed_bfloat16",
            f"this computer's processor multiplies 16-bit bfloat16 numbers natively ({' and '.join(units)}), "
            "2-4 times faster than 32-bit float32; the weights themselves stay float32",
        )
    return Precision(
        "float32",
        "this computer's processor has no bfloat16 units (AVX512_BF16 or AMX), and imitating them would be slower",
    )


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them; empty where there is no /proc/cpuinfo."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":  # every core lists the same flags: the first line is enough
            return frozenset(value.split())
    return frozenset()


def gpu_capabilities() -> list[tuple[int, int]]:
    """The compute capability of each GPU TensorFlow can use."""
    from cnnviz.backend import tf  # noqa: PLC0415  (TensorFlow's import waits for the first epoch)

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        found.append(tuple(capability) if capability else (0, 0))
    return found


@functools.cache
def detected() -> Precision:
    """`auto` on this machine (asked once: the hardware does not change while a server runs)."""
    return choose(cpu_flags(), gpu_capabilities())


def resolve(name: str) -> Precision:
    """`auto` to what this machine does best; `float32` or `mixed_bfloat16` as asked."""
    if name == "auto":
        return detected()
    if name not in CHOICES:
        raise CnnvizError(f"Unknown precision {name!r}: choose one of {', '.join(CHOICES)}.")
    return Precision(name, "chosen with --precision")
