"""`auto` picks bfloat16 only where the hardware multiplies it natively, and says why."""

import pytest

from cnnviz.errors import CnnvizError
from cnnviz.precision import choose, cpu_flags, detected, resolve

XEON_AMX = {"fpu", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
EPYC_ZEN4 = {"fpu", "avx2", "avx512f", "avx512_bf16"}
OLD_LAPTOP = {"fpu", "sse4_2", "avx", "avx2", "fma"}


@pytest.mark.parametrize("flags, units", [(XEON_AMX, "AVX512_BF16 and AMX"), (EPYC_ZEN4, "AVX512_BF16")])
def test_a_cpu_with_bfloat16_units_trains_in_bfloat16(flags, units):
    chosen = choose(flags, [])
    assert chosen.name == "mixed_bfloat16" and chosen.bfloat16
    assert units in chosen.reason and "weights themselves stay float32" in chosen.reason


def test_a_cpu_without_them_keeps_float32():
    chosen = choose(OLD_LAPTOP, [])
    assert chosen.name == "float32" and not chosen.bfloat16
    assert "no bfloat16 units" in chosen.reason


def test_no_cpuinfo_means_float32(tmp_path):
    assert cpu_flags(tmp_path / "missing") == frozenset()
    assert choose(cpu_flags(tmp_path / "missing"), []).name == "float32"


def test_flags_are_read_from_the_kernels_list(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU with BF16 in its name\nflags\t\t: fpu avx2 amx_bf16\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "amx_bf16"}
    named_only = tmp_path / "named"
    named_only.write_text("processor\t: 0\nmodel name\t: AMX BF16 Edition\nflags\t\t: fpu avx2\n")
    assert choose(cpu_flags(named_only), []).name == "float32", "the CPU's name must not count"


def test_gpus_decide_when_there_are_any():
    assert choose(OLD_LAPTOP, [(8, 0)]).name == "mixed_bfloat16"
    assert choose(XEON_AMX, [(7, 5)]).name == "float32", "a pre-Ampere GPU trains, and it has no bfloat16"
    assert choose(XEON_AMX, [(9, 0), (7, 0)]).name == "float32"


def test_resolve_keeps_an_explicit_choice_and_refuses_others():
    assert resolve("float32").name == "float32"
    assert resolve("mixed_bfloat16").name == "mixed_bfloat16"
    assert resolve("auto") == detected()
    with pytest.raises(CnnvizError, match="Unknown precision"):
        resolve("float16")


def test_this_machine_is_detected_from_its_flags():
    """The detection on the machine running the tests agrees with its own /proc/cpuinfo."""
    flags = cpu_flags()
    expected = "mixed_bfloat16" if flags & {"avx512_bf16", "amx_bf16"} else "float32"
    assert detected().name == expected


def test_auto_is_the_default_of_the_command_line_and_of_a_session():
    from cnnviz.cli import _parser
    from cnnviz.runs import RunOptions
    from cnnviz.session import SessionModel

    assert _parser().parse_args(["train", "--data", "somewhere"]).precision == "auto"
    assert RunOptions().precision == "auto"
    assert SessionModel.untrained().precision == detected()
