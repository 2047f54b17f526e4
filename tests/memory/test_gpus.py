"""The GPU catalogue: capacities are the bytes each card really offers, shown in GiB."""

import pytest

from core.memory.gpus import GPUS, fits_on, gpu_by_name

GIB = 2**30


@pytest.mark.parametrize(("name", "mib", "gib"), [
    # nvidia-smi memory.total in MiB; GiB = MiB / 1024, rounded to 2 places.
    ("T4", 15360, 15.0),         # sold as 16 GB; 16 x 10^9 bytes would be 14.90 GiB
    ("L4", 23034, 22.49),        # 23034 / 1024 = 22.494
    ("RTX 4090", 24564, 23.99),  # 24564 / 1024 = 23.988
    ("A100 80 GB", 81920, 80.0),
    ("H100", 81559, 79.65),      # 81559 / 1024 = 79.647
    ("H200", 143771, 140.4),     # 143771 / 1024 = 140.401
])
def test_capacity_is_reported_mib_in_gib(name, mib, gib):
    gpu = gpu_by_name(name)
    assert gpu.bytes == mib * 2**20
    assert gpu.gib == gib


def test_sold_size_is_not_the_usable_size():
    """A card sold as "16 GB" offers less than 16 GiB; none offers more than its label."""
    t4 = gpu_by_name("T4")
    assert t4.bytes < 16 * GIB and t4.gib == 15.0
    for g in GPUS:
        sold_gb = float(g.name.split()[-2])
        assert g.bytes <= sold_gb * GIB, g.name
        assert g.source, g.name


def test_fits_on_uses_usable_bytes():
    """15.5 GiB fits nowhere on a T4 (15 GiB usable) though 16 GiB would have said yes."""
    row = fits_on(15.5 * GIB)[0]
    assert row == {"gpu": "T4 16 GB", "usable_gib": 15.0, "fits": False, "headroom_gib": -0.5}
