import numpy as np
import pytest
import torch

from robovla.model.action_space import ActionStats, discretize, undiscretize


def test_normalize_roundtrip_numpy_and_torch():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 0.01, size=(1000, 7))
    a[:, 6] = rng.integers(0, 2, 1000)
    s = ActionStats.from_actions(a)
    n = s.normalize(a)
    assert n[:, :6].min() >= -1 and n[:, :6].max() <= 1
    assert set(np.unique(n[:, 6])) <= {0.0, 1.0}
    inside = (a[:, :6] >= s.low[:6]).all(1) & (a[:, :6] <= s.high[:6]).all(1)
    back = s.unnormalize(n)
    np.testing.assert_allclose(back[inside], a[inside].astype(np.float32), atol=1e-6)
    t = s.normalize(torch.tensor(a, dtype=torch.float32))
    np.testing.assert_allclose(t.numpy(), n, atol=1e-5)


def test_quantile_range_clips_outliers():
    a = np.zeros((100, 7))
    a[:, 0] = np.linspace(-1, 1, 100)
    a[0, 0] = -50.0
    s = ActionStats.from_actions(a, mode="quantile")
    assert s.low[0] > -2  # the outlier does not stretch the range
    assert ActionStats.from_actions(a, mode="minmax").low[0] == -50.0
    clip = ActionStats.from_actions(a, mode="clip", clip=0.65)
    assert clip.low[:6] == [-0.65] * 6


def test_dict_roundtrip_and_bad_input():
    s = ActionStats.from_actions(np.random.default_rng(0).normal(size=(20, 7)))
    assert ActionStats.from_dict(s.to_dict()).to_dict() == s.to_dict()
    with pytest.raises(ValueError, match="missing"):
        ActionStats.from_dict({"low": [0, 0]})
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        ActionStats.from_actions(np.zeros(7))
    with pytest.raises(ValueError, match="NaN"):
        ActionStats.from_actions(np.full((3, 7), np.nan))
    with pytest.raises(ValueError, match="dims"):
        s.normalize(np.zeros((2, 5)))


def test_discretize_256_bins():
    norm = torch.tensor([[-1.0, -0.999, 0.0, 0.5, 0.999, 1.0, 1.0], [0.2, -0.2, 0.1, -0.1, 0.3, -0.3, 0.0]])
    bins = discretize(norm, 256)
    assert bins.min() >= 0 and bins.max() <= 255
    assert bins[0, 0] == 0 and bins[0, 5] == 255 and bins[0, 6] == 255 and bins[1, 6] == 0
    back = undiscretize(bins, 256)
    assert torch.all((back[:, :6] - norm[:, :6].clamp(-1, 1)).abs() <= 1 / 256 + 1e-6)
    assert torch.equal(back[:, 6], norm[:, 6])
