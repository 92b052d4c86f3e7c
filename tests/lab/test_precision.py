"""course_lib.lab.precision: float16's constants, what autocast supports here, and loss scaling against
torch.amp.GradScaler."""

import numpy as np
import pytest
import torch

from course_lib.lab import precision


def test_float16_constants():
    assert precision.FLOAT16_MAX == 65504.0 == torch.finfo(torch.float16).max
    assert torch.tensor(1e-8, dtype=torch.float16).item() == 0.0
    assert precision.FLOAT16_TINY == pytest.approx(5.96e-8, rel=1e-3)


def test_detection_on_the_cpu_matches_what_autocast_does():
    dtypes = precision.autocast_dtypes("cpu")
    assert set(dtypes) <= {torch.float16, torch.bfloat16}
    for dtype in dtypes:
        with torch.autocast("cpu", dtype=dtype):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == dtype
    plan = precision.amp_plan(torch.device("cpu"), "Device: CPU (test)")
    assert plan.sentence.startswith("Device: CPU (test); autocast dtypes that work:")
    assert plan.use_scaler == (plan.dtype == torch.float16)
    assert plan.dtype in dtypes or (plan.dtype == torch.float32 and not dtypes)


def test_update_scale_follows_grad_scaler():
    rng = np.random.default_rng(1)
    flags = list(rng.random(40) < 0.3) + [False] * 6
    w = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=4)
    scale, tracker = 1024.0, 0
    for found_inf in flags:
        optimizer.zero_grad()
        scaler.scale((w * (float("inf") if found_inf else 1.0)).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
        scale, tracker = precision.update_scale(scale, tracker, bool(found_inf), growth_interval=4)
        assert scale == scaler.get_scale()


def test_unscale_matches_grad_scaler_and_reports_inf():
    grads = [np.array([65536.0, -3.0 * 65536]), np.array([[1.0, 2.0]])]
    assert precision.unscale_(grads, 65536.0) is False
    np.testing.assert_array_equal(grads[0], [1.0, -3.0])
    assert precision.unscale_([np.array([np.inf, 1.0])], 2.0) is True
    assert precision.describe_scale(65536.0) == "65536 = 2^16" and precision.describe_scale(3.0) == "3"


@pytest.mark.parametrize("growth_factor, backoff_factor", [(4.0, 0.5), (1.1, 0.3), (2.0, 0.25)])
def test_update_scale_rounds_to_float32_and_never_grows_to_inf_like_grad_scaler(growth_factor, backoff_factor):
    """The scale is a float32 tensor in torch: products round to float32, and growth past float32's
    largest value is refused (the scale stays, the count restarts)."""
    w = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([w], lr=0.0)
    settings = {"growth_factor": growth_factor, "backoff_factor": backoff_factor, "growth_interval": 1}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**100, **settings)
    scale, tracker = 2.0**100, 0
    flags = [False] * 40 + [True] * 3 + [False] * 5
    for found_inf in flags:
        optimizer.zero_grad()
        scaler.scale((w * (float("inf") if found_inf else 0.0)).sum()).backward()
        scaler.step(optimizer)
        scaler.update()
        scale, tracker = precision.update_scale(scale, tracker, found_inf, **settings)
        assert scale == scaler.get_scale() and tracker == scaler.state_dict()["_growth_tracker"]
        assert np.isfinite(scale)
