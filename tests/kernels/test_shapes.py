from __future__ import annotations

import pytest

from maskaudit.errors import InputError
from maskaudit.kernels.shapes import scale_factors


def test_factors_follow_the_scale_order() -> None:
    shapes = [(2, 8, 80, 60), (2, 32, 20, 15), (2, 4, 160, 120)]
    assert scale_factors((2, 5, 160, 120), shapes) == [2, 8, 1]


@pytest.mark.parametrize(
    ("feat_shape", "message"),
    [
        ((2, 8, 80, 40), "80x40"),  # width factor differs from height factor
        ((2, 8, 30, 30), "30x30"),  # not a whole-number downscale
        ((2, 8, 320, 320), "320x320"),  # larger than the masks
        ((3, 8, 80, 80), "batch 3"),
        ((8, 80, 80), "4-d"),
    ],
)
def test_mismatched_maps_are_refused(feat_shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(InputError, match=message):
        scale_factors((2, 5, 160, 160), [feat_shape])
