"""course_lib.lab.nets, the network of notebook 07: gradients against central differences and torch
autograd, batched training (the numbers of one network at a time, and of torch.optim), two_moons."""

import statistics

import numpy as np
import pytest
import torch

from course_lib.lab import data, nets


def _batch(seed=0, m=7, runs=None):
    rng = np.random.default_rng(seed)
    lead = () if runs is None else (runs,)
    params = [rng.normal(size=lead + shape) for shape in nets.param_shapes()]
    X = rng.normal(size=lead + (2, m))
    Y = (rng.random(lead + (1, m)) > 0.5).astype(float)
    return params, X, Y


def test_two_moons_is_seeded_shaped_and_makes_two_half_moons():
    X, y = data.two_moons(300, 0.2, seed=3)
    again, _ = data.two_moons(300, 0.2, seed=3)
    assert X.shape == (300, 2) and y.shape == (300,) and np.array_equal(X, again)
    assert np.bincount(y).tolist() == [150, 150]
    clean, labels = data.two_moons(10, 0.0, seed=0)
    upper = clean[labels == 0]
    assert np.allclose(np.hypot(*upper.T), 1)                       # the unit half circle
    assert not np.array_equal(X, data.two_moons(300, 0.2, seed=4)[0])
    with pytest.raises(ValueError, match="noise"):
        data.two_moons(300, -1.0)


def test_backward_matches_central_differences():
    params, X, Y = _batch()
    grads = nets.backward(params, Y, nets.forward(params, X)[1])
    h = 1e-6
    for p, g in zip(params, grads):
        numeric = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            saved = p[index]
            p[index] = saved + h
            plus = nets.cost(nets.forward(params, X)[0], Y)
            p[index] = saved - h
            minus = nets.cost(nets.forward(params, X)[0], Y)
            p[index] = saved
            numeric[index] = (plus - minus) / (2 * h) / X.shape[-1]
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_backward_matches_torch_autograd_with_and_without_a_run_axis():
    for runs in (None, 4):
        params, X, Y = _batch(seed=1, runs=runs)
        grads = nets.backward(params, Y, nets.forward(params, X)[1])
        tensors = [torch.tensor(p, requires_grad=True) for p in params]
        W1, b1, W2, b2, W3, b3 = tensors
        A3 = torch.sigmoid(W3 @ torch.relu(W2 @ torch.relu(W1 @ torch.tensor(X) + b1) + b2) + b3)
        loss = torch.nn.functional.binary_cross_entropy(A3, torch.tensor(Y), reduction="sum") / X.shape[-1]
        loss.backward()
        for g, t in zip(grads, tensors):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_views_and_flatten_are_inverse_and_share_memory():
    params, _, _ = _batch(runs=3)
    theta = nets.flatten(params)
    assert theta.shape == (3, 30)
    for p, v in zip(params, nets.views(theta)):
        assert np.array_equal(p, v) and np.shares_memory(v, theta)


SETTINGS = [nets.Setting(name, lr, decay) for name in nets.OPTIMIZERS for decay, lr in ((False, 0.0007), (True, 0.05))]


def test_batched_training_gives_the_numbers_of_one_network_at_a_time():
    settings = SETTINGS + [nets.Setting("Adam", 0.01, False, nets.Draw.fresh(1))]
    batched = nets.train(settings, epochs=30, record_every=5)
    for i, setting in enumerate(settings):
        one = nets.train_one(setting, epochs=30, record_every=5)
        np.testing.assert_allclose(batched.params[i], one.params[0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(batched.costs[i], one.costs[0], rtol=1e-13)
        assert batched.accuracy[i] == one.accuracy[0]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: f"{s.optimizer}-decay{s.decay}")
def test_training_agrees_with_torch_optim(setting):
    ours = nets.train_one(setting, epochs=15, record_every=1)
    theirs = nets.train_torch(setting, epochs=15, record_every=1)
    np.testing.assert_allclose(ours.params, theirs.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.costs, theirs.costs, rtol=1e-12)


def test_the_assignment_draw_reproduces_its_first_epoch_costs():
    costs = nets.train([nets.Setting(name) for name in nets.OPTIMIZERS], epochs=1).costs[:, 0]
    np.testing.assert_allclose(costs, [0.7024, 0.7024, 0.7022], atol=5e-5)


def test_fixed_interval_decay_drops_after_epoch_1000_as_in_the_assignment():
    """The assignment sets lr0 / (1 + ⌊n/1000⌋) at the end of epoch n: epoch e runs at ⌊(e − 1)/1000⌋."""
    rates = nets.epoch_lrs(nets.Setting("GD", 0.1, True), 2002)
    assert rates[0] == rates[1000] == 0.1 and rates[1001] == 0.05 and rates[2001] == pytest.approx(0.1 / 3)


def test_the_decay_runs_print_what_the_assignment_prints_after_epoch_1000():
    """The assignment's code, run on its seeds, prints these costs after epochs 0 and 1000 (lr0 0.1,
    0.1, 0.01); a rate that dropped one epoch earlier, at ⌊e/1000⌋, would give 0.1267 / 0.1289 / 0.1299."""
    settings = [nets.Setting(name, lr, True) for name, lr in zip(nets.OPTIMIZERS, (0.1, 0.1, 0.01))]
    result = nets.train(settings, epochs=1001, record_every=1000)
    np.testing.assert_allclose(result.cost_at(0), [0.701091, 0.702226, 0.699346], atol=5e-6)
    np.testing.assert_allclose(result.cost_at(1000), [0.127161, 0.128974, 0.130074], atol=5e-6)


def test_batches_keep_the_last_partial_batch():
    assert nets.batches(300, 64)[-1] == (256, 300) and len(nets.batches(300, 64)) == 5


def test_a_dead_or_diverged_run_is_reported():
    result = nets._finish([SETTINGS[0]], np.array([0, 10, 20]), np.array([[0.7, np.inf, np.nan]]),
                          np.zeros((1, 30)), np.array([0.5]))
    assert result.diverged_at == [10]


def test_batched_is_at_least_ten_times_faster_than_one_at_a_time():
    """The benchmark's target (benchmarks/bench_nets.py), on fewer runs: after a warm-up, the median
    of three ratios over 20 epochs (a single pass of 5 epochs lasts a few ms and is too noisy)."""
    settings = [nets.Setting(name, lr, False, nets.Draw.fresh(seed))
                for seed in (1, 2) for name in nets.OPTIMIZERS for lr in (0.001, 0.01, 0.1)]
    nets.time_batched_vs_one_at_a_time(settings[:3], epochs=2)
    ratios = [looped / batched for batched, looped in
              (nets.time_batched_vs_one_at_a_time(settings, epochs=20) for _ in range(3))]
    assert statistics.median(ratios) >= 10
