"""A small multilayer perceptron in NumPy, its backprop, and the optimizer showdown of notebook 07.

The network of the Coursera "Optimization methods" assignment (Deep Learning Specialization,
course 2, week 2): layers [2, 5, 2, 1], ReLU, ReLU, sigmoid, He initialisation, binary
cross-entropy. Shapes follow the assignment, features × examples: X (2, m), Y (1, m),
W_l (n_l, n_(l−1)), b_l (n_l, 1).

Every function also accepts a leading *run* axis: X (R, 2, m), W_l (R, n_l, n_(l−1)). The same
lines then train R networks at once, one per optimizer, learning rate and seed, so that a
5000-epoch experiment of dozens of runs costs what one run costs::

    from course_lib.lab import nets
    one = nets.train_one(nets.Setting("Adam", lr=0.0007), epochs=100)   # a plain loop, one network
    many = nets.train([nets.Setting(name, 0.0007) for name in nets.OPTIMIZERS], epochs=100)  # batched

torch is imported only by ``train_torch``.
"""

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from course_lib import optim, schedules
from course_lib.lab import data

LAYERS = (2, 5, 2, 1)
OPTIMIZERS = ("GD", "momentum", "Adam")
"""The assignment's three optimizers: mini-batch GD, textbook momentum (β), Adam (β1, β2, ε)."""


# --- the network -----------------------------------------------------------------------------


def relu(Z):
    return np.maximum(Z, 0)


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def _T(A):
    """The transpose of the last two axes (of every run's matrix when there is a run axis)."""
    return np.swapaxes(A, -1, -2)


def he_init(layers=LAYERS, seed=3):
    """[W1, b1, W2, b2, W3, b3]: W_l ~ N(0, 2 / n_(l−1)) (He et al. 2015), b_l = 0.

    The draws of the assignment: ``RandomState(seed).randn`` for W1, W2, W3 in turn.
    """
    rng = np.random.RandomState(seed)
    params = []
    for fan_in, fan_out in zip(layers[:-1], layers[1:]):
        params += [rng.randn(fan_out, fan_in) * np.sqrt(2 / fan_in), np.zeros((fan_out, 1))]
    return params


def forward(params, X):
    """LINEAR → ReLU → LINEAR → ReLU → LINEAR → sigmoid; returns A3 and what backward needs."""
    W1, b1, W2, b2, W3, b3 = params
    A1 = relu(W1 @ X + b1)
    A2 = relu(W2 @ A1 + b2)
    A3 = sigmoid(W3 @ A2 + b3)
    return A3, (X, A1, A2, A3)


def cost(A3, Y):
    """Binary cross-entropy summed over the examples (divide by m for the mean), one per run."""
    return -np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3), axis=(-2, -1))


def backward(params, Y, cache):
    """Gradients of the mean cross-entropy over the m examples, [dW1, db1, dW2, db2, dW3, db3].

    Sigmoid and cross-entropy together give dZ3 = (A3 − Y) / m; a ReLU passes the gradient where
    its output was positive and blocks it elsewhere.
    """
    W1, b1, W2, b2, W3, b3 = params
    X, A1, A2, A3 = cache
    m = Y.shape[-1]
    dZ3 = (A3 - Y) / m
    dZ2 = (_T(W3) @ dZ3) * (A2 > 0)
    dZ1 = (_T(W2) @ dZ2) * (A1 > 0)
    return [dZ1 @ _T(X), dZ1.sum(-1, keepdims=True),
            dZ2 @ _T(A1), dZ2.sum(-1, keepdims=True),
            dZ3 @ _T(A2), dZ3.sum(-1, keepdims=True)]


def predict(params, X):
    """Class 1 where the network's probability is above 0.5 (NaN from a diverged run gives 0)."""
    return (forward(params, X)[0] > 0.5).astype(int)


def param_shapes(layers=LAYERS):
    """The shapes of [W1, b1, W2, b2, ...]."""
    return [shape for fan_in, fan_out in zip(layers[:-1], layers[1:]) for shape in ((fan_out, fan_in), (fan_out, 1))]


def views(theta, layers=LAYERS):
    """[W1, b1, ...] as views into flat parameters ``theta`` of shape (P,) or (R, P)."""
    out, start = [], 0
    for shape in param_shapes(layers):
        size = int(np.prod(shape))
        out.append(theta[..., start:start + size].reshape(theta.shape[:-1] + shape))
        start += size
    return out


def flatten(params):
    """[W1, b1, ...] (each (n, k) or (R, n, k)) as one array (P,) or (R, P)."""
    lead = params[0].shape[:-2]
    return np.concatenate([p.reshape(lead + (-1,)) for p in params], axis=-1)


# --- the experiment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """Where a run's randomness comes from: the data set, the initial weights, the mini-batches.

    Epoch e is shuffled by ``RandomState(first_shuffle_seed + e).permutation(m)``, as in the
    assignment (``seed = 10``, then ``seed + 1`` before every epoch).
    """

    data_seed: int = 3
    init_seed: int = 3
    first_shuffle_seed: int = 11

    @classmethod
    def fresh(cls, seed: int) -> "Draw":
        """Draw ``seed``: data and weights from ``seed``, shuffles from 10 000·seed + 11 on."""
        return cls(seed, seed, 10_000 * seed + 11)

    def data(self, n=300, noise=0.2):
        """X (2, n) and Y (1, n), the assignment's layout."""
        X, y = data.two_moons(n, noise, self.data_seed)
        return X.T.copy(), y[None, :].astype(float)

    def permutations(self, epochs, m):
        """(epochs, m): the order of the examples in each epoch."""
        rng = np.random.RandomState()
        out = np.empty((epochs, m), dtype=np.intp)
        for e in range(epochs):
            rng.seed(self.first_shuffle_seed + e)   # what np.random.seed(seed) does, without a new object
            out[e] = rng.permutation(m)
        return out


COURSERA = Draw(3, 3, 11)
"""The assignment's own draw: ``np.random.seed(3)`` before make_moons and before the He weights."""


@dataclass(frozen=True)
class Setting:
    """One training run: optimizer, (initial) learning rate, fixed-interval decay or not, and its draw.

    ``lr`` is the assignment's α; for momentum that is the textbook step (v ← βv + (1−β)g,
    θ ← θ − αv), which is ``SGD(lr=α(1−β), momentum=β)`` exactly.
    """

    optimizer: str
    lr: float = 0.0007
    decay: bool = False
    draw: Draw = COURSERA

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer: {self.optimizer!r} (one of {', '.join(OPTIMIZERS)})")
        if not self.lr > 0:
            raise ValueError(f"Invalid learning rate: lr={self.lr!r} (must be > 0)")


@dataclass(frozen=True)
class Hyper:
    """The assignment's fixed settings."""

    batch_size: int = 64
    beta: float = 0.9
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    decay_rate: float = 1.0
    decay_interval: int = 1000


def epoch_lrs(setting: Setting, epochs: int, hyper: Hyper = Hyper()) -> np.ndarray:
    """The learning rate of each epoch 0, …, epochs − 1.

    With decay, the assignment's fixed-interval scheduling. Its loop sets lr0 / (1 + k·⌊n / interval⌋)
    at the end of epoch n, so the new rate first acts in epoch n + 1: epoch e ≥ 1 runs at
    lr0 / (1 + k·⌊(e − 1) / interval⌋) and epoch 0 at lr0. With interval 1000, epochs 0–1000 run at
    lr0, 1001–2000 at lr0/2, and so on.
    """
    if not setting.decay:
        return np.full(epochs, float(setting.lr))
    previous = np.maximum(np.arange(epochs) - 1, 0)
    return schedules.staircase_decay(setting.lr, previous, hyper.decay_rate, hyper.decay_interval)


def make_optimizer(name, params, lr, hyper: Hyper = Hyper()):
    """The course_lib optimizer for one of ``OPTIMIZERS``; ``lr`` is the assignment's α (a
    number, or an array with one row per run)."""
    if name == "GD":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr * (1 - hyper.beta), momentum=hyper.beta)
    return optim.Adam(params, lr=lr, betas=hyper.betas, eps=hyper.eps)


def _set_lr(optimizer, name, lr, hyper):
    optimizer.lr = lr * (1 - hyper.beta) if name == "momentum" else lr


def batches(m, batch_size):
    """(start, stop) of each mini-batch of an epoch; the last one takes the remainder."""
    return [(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]


@dataclass
class Training:
    """What training recorded. ``costs[r, i]`` is the mean cost of epoch ``epochs[i]`` of run r
    (the mean of the mini-batch costs met during that epoch, as the assignment prints it);
    ``params`` the final flat parameters (R, P); ``accuracy`` on the training set;
    ``diverged_at`` the first recorded epoch whose cost is not finite (None if none)."""

    settings: list
    epochs: np.ndarray
    costs: np.ndarray
    params: np.ndarray
    accuracy: np.ndarray
    diverged_at: list = field(default_factory=list)

    def cost_at(self, epoch):
        """Costs of every run at recorded ``epoch``."""
        return self.costs[:, int(np.flatnonzero(self.epochs == epoch)[0])]

    def select(self, **which):
        """Indices of the runs whose setting matches ``which`` (e.g. optimizer="Adam", decay=True)."""
        return [i for i, s in enumerate(self.settings) if all(getattr(s, k) == v for k, v in which.items())]


def train_one(setting: Setting, epochs=5000, record_every=10, hyper: Hyper = Hyper()) -> Training:
    """One network, trained in a plain loop: the assignment's ``model(...)`` with course_lib's
    optimizers. Returns a Training of one run."""
    X, Y = setting.draw.data()
    m = X.shape[1]
    params = he_init(seed=setting.draw.init_seed)
    optimizer = make_optimizer(setting.optimizer, params, setting.lr, hyper)
    permutations = setting.draw.permutations(epochs, m)
    rates = epoch_lrs(setting, epochs, hyper)
    recorded, costs = [], []
    with np.errstate(all="ignore"):
        for epoch in range(epochs):
            _set_lr(optimizer, setting.optimizer, rates[epoch], hyper)
            Xs, Ys = X[:, permutations[epoch]], Y[:, permutations[epoch]]
            total = 0.0
            for start, stop in batches(m, hyper.batch_size):
                A3, cache = forward(params, Xs[:, start:stop])
                total += cost(A3, Ys[:, start:stop])
                optimizer.step(backward(params, Ys[:, start:stop], cache))
            if epoch % record_every == 0 or epoch == epochs - 1:
                recorded.append(epoch)
                costs.append(total / m)
        accuracy = np.mean(predict(params, X) == Y)
    return _finish([setting], np.array(recorded), np.array(costs)[None, :],
                   flatten(params)[None, :], np.array([accuracy]))


def train(settings, epochs=5000, record_every=10, hyper: Hyper = Hyper()) -> Training:
    """Every setting trained at once, as one computation over a leading run axis R.

    The lines of ``forward``/``backward`` and of course_lib's update functions (the steps of
    ``optim.SGD`` and ``optim.Adam``), on flat parameters θ of shape (R, P): each optimizer owns a
    block of rows, and its learning rate is an (R_k, 1) array, one rate per run. Intermediate
    arrays are preallocated and updated in place, which makes a step about twice as fast; the
    numbers are those of ``train_one`` (tests/lab/test_nets.py). Runs of one draw see the same
    data, initial weights and mini-batches.
    """
    settings = list(settings)
    order = sorted(range(len(settings)), key=lambda i: OPTIMIZERS.index(settings[i].optimizer))
    ordered = [settings[i] for i in order]
    draws = list(dict.fromkeys(s.draw for s in ordered))
    draw_of_run = np.array([draws.index(s.draw) for s in ordered])
    X, Y = (np.stack(parts) for parts in zip(*(d.data() for d in draws)))     # (D, 2, m), (D, 1, m)
    m = X.shape[-1]
    permutations = np.stack([d.permutations(epochs, m) for d in draws], axis=1)  # (epochs, D, m)
    theta = np.stack([flatten(he_init(seed=s.draw.init_seed)) for s in ordered])  # (R, P)
    grad = np.zeros_like(theta)
    steppers = []
    for name in OPTIMIZERS:
        rows = [i for i, s in enumerate(ordered) if s.optimizer == name]
        if rows:
            rates = np.stack([epoch_lrs(ordered[i], epochs, hyper) for i in rows], axis=1)[:, :, None]
            steppers.append(_RowStepper(name, slice(rows[0], rows[-1] + 1), theta, grad, rates, hyper))
    params, grads = views(theta), views(grad)
    spaces = {size: _Workspace(len(ordered), size) for size in {stop - start for start, stop in batches(m, hyper.batch_size)}}
    recorded, costs = [], []
    with np.errstate(all="ignore"):
        for epoch in range(epochs):
            Xs = np.take_along_axis(X, permutations[epoch][:, None, :], axis=2)[draw_of_run]   # (R, 2, m)
            Ys = np.take_along_axis(Y, permutations[epoch][:, None, :], axis=2)[draw_of_run]
            record = epoch % record_every == 0 or epoch == epochs - 1
            total = 0.0
            for start, stop in batches(m, hyper.batch_size):
                space = spaces[stop - start]
                A3 = space.gradients(params, grads, Xs[..., start:stop], Ys[..., start:stop])
                if record:
                    total = total + cost(A3, Ys[..., start:stop])
                for stepper in steppers:
                    stepper.step(epoch)
            if record:
                recorded.append(epoch)
                costs.append(total / m)
        accuracy = np.mean(predict(params, X[draw_of_run]) == Y[draw_of_run], axis=(-2, -1))
    back = np.argsort(order)
    return _finish(settings, np.array(recorded), np.array(costs).T[back], theta[back], accuracy[back])


class _Workspace:
    """Preallocated arrays for ``forward`` and ``backward`` of R networks on batches of m examples."""

    def __init__(self, runs, m, layers=LAYERS):
        self.A = [np.empty((runs, n, m)) for n in layers[1:]]
        self.dZ = [np.empty((runs, n, m)) for n in layers[1:]]
        self.masks = [np.empty((runs, n, m), dtype=bool) for n in layers[1:-1]]

    def gradients(self, params, grads, X, Y):
        """``forward`` then ``backward``, in place: writes the gradients into ``grads`` (views of
        the flat gradient), returns A3."""
        W1, b1, W2, b2, W3, b3 = params
        A1, A2, A3 = self.A
        dZ1, dZ2, dZ3 = self.dZ
        mask1, mask2 = self.masks
        for W, b, inputs, A in ((W1, b1, X, A1), (W2, b2, A1, A2)):
            np.matmul(W, inputs, out=A)
            A += b
            np.maximum(A, 0, out=A)
        np.matmul(W3, A2, out=A3)
        A3 += b3
        np.negative(A3, out=A3)
        np.exp(A3, out=A3)
        A3 += 1
        np.divide(1, A3, out=A3)
        np.subtract(A3, Y, out=dZ3)
        dZ3 /= Y.shape[-1]
        np.matmul(_T(W3), dZ3, out=dZ2)
        np.multiply(dZ2, np.greater(A2, 0, out=mask2), out=dZ2)
        np.matmul(_T(W2), dZ2, out=dZ1)
        np.multiply(dZ1, np.greater(A1, 0, out=mask1), out=dZ1)
        for dW, db, dZ, inputs in zip(grads[0::2], grads[1::2], self.dZ, (X, A1, A2)):
            np.matmul(dZ, _T(inputs), out=dW)
            np.sum(dZ, axis=-1, keepdims=True, out=db)
        return A3


class _RowStepper:
    """One optimizer on a block of rows of θ: the update functions of ``optim.SGD`` (with and
    without momentum) and ``optim.Adam``, in their order, with one learning rate per row."""

    def __init__(self, name, rows, theta, grad, rates, hyper):
        self.name, self.theta, self.grad, self.rates, self.hyper = name, theta[rows], grad[rows], rates, hyper
        self.state = [np.zeros_like(self.theta) for _ in range({"GD": 0, "momentum": 1, "Adam": 2}[name])]
        self.steps = 0

    def step(self, epoch):
        self.steps += 1
        lr, g, hyper = self.rates[epoch], self.grad, self.hyper
        if self.name == "GD":
            optim.descend_(self.theta, g, lr)
        elif self.name == "momentum":
            (buf,) = self.state
            if self.steps == 1:
                np.copyto(buf, g)
            else:
                optim.momentum_buffer_(buf, g, hyper.beta, 0)
            optim.descend_(self.theta, buf, lr * (1 - hyper.beta))
        else:
            beta1, beta2 = hyper.betas
            exp_avg = optim.ewa_(self.state[0], g, beta1)
            exp_avg_sq = optim.ewa_of_squares_(self.state[1], g, beta2)
            correction1 = optim.bias_correction(beta1, self.steps)
            correction2 = optim.bias_correction(beta2, self.steps)
            denom = optim.adam_denominator(exp_avg_sq, correction2, hyper.eps)
            optim.preconditioned_descend_(self.theta, exp_avg, denom, lr / correction1)


def _finish(settings, epochs, costs, params, accuracy):
    diverged = [None if np.isfinite(row).all() else int(epochs[np.flatnonzero(~np.isfinite(row))[0]])
                for row in costs]
    return Training(list(settings), epochs, costs, params, accuracy, diverged)


def probabilities(flat_params, points):
    """The network's probability of class 1 at ``points`` (N, 2), for each run of ``flat_params``
    (R, P): shape (R, N). For decision-boundary pictures."""
    with np.errstate(all="ignore"):
        return forward(views(flat_params), np.asarray(points, dtype=float).T)[0][..., 0, :]


# --- timing and torch ---------------------------------------------------------------------------


def time_batched_vs_one_at_a_time(settings, epochs=20, hyper: Hyper = Hyper()):
    """Seconds to train ``settings`` for ``epochs`` batched (``train``) and one at a time in a
    plain loop (``train_one`` per setting): (batched_s, one_at_a_time_s). Both also return the
    same numbers, which a benchmark can check."""
    start = time.perf_counter()
    train(settings, epochs, hyper=hyper)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for setting in settings:
        train_one(setting, epochs, hyper=hyper)
    return batched, time.perf_counter() - start


def train_torch(setting: Setting, epochs=200, record_every=10, device="cpu", dtype=None,
                hyper: Hyper = Hyper()) -> Training:
    """``train_one`` with torch: the same data, weights and mini-batches; autograd for the
    gradients and ``torch.optim`` (SGD, SGD(lr=α(1−β), momentum=β), Adam) for the steps.

    float64 unless ``dtype`` says otherwise (Apple's MPS has no float64: pass torch.float32).
    """
    import torch

    from course_lib.lab.torch_bridge import one_cpu_thread

    with one_cpu_thread() if torch.device(device).type == "cpu" else contextlib.nullcontext():
        return _train_torch(torch, setting, epochs, record_every, device, dtype, hyper)


def _train_torch(torch, setting, epochs, record_every, device, dtype, hyper):
    dtype = torch.float64 if dtype is None else dtype
    X_np, Y_np = setting.draw.data()
    m = X_np.shape[1]
    X = torch.tensor(X_np, dtype=dtype, device=device)
    Y = torch.tensor(Y_np, dtype=dtype, device=device)
    params = [torch.tensor(p, dtype=dtype, device=device, requires_grad=True)
              for p in he_init(seed=setting.draw.init_seed)]
    lr = setting.lr
    if setting.optimizer == "GD":
        optimizer = torch.optim.SGD(params, lr=lr)
    elif setting.optimizer == "momentum":
        optimizer = torch.optim.SGD(params, lr=lr * (1 - hyper.beta), momentum=hyper.beta)
    else:
        optimizer = torch.optim.Adam(params, lr=lr, betas=hyper.betas, eps=hyper.eps)
    permutations = torch.tensor(setting.draw.permutations(epochs, m), device=device)
    rates = epoch_lrs(setting, epochs, hyper)
    recorded, costs = [], []
    for epoch in range(epochs):
        rate = float(rates[epoch])
        optimizer.param_groups[0]["lr"] = rate * (1 - hyper.beta) if setting.optimizer == "momentum" else rate
        Xs, Ys = X[:, permutations[epoch]], Y[:, permutations[epoch]]
        total = torch.zeros((), dtype=dtype, device=device)
        for start, stop in batches(m, hyper.batch_size):
            W1, b1, W2, b2, W3, b3 = params
            A2 = torch.relu(W2 @ torch.relu(W1 @ Xs[:, start:stop] + b1) + b2)
            A3 = torch.sigmoid(W3 @ A2 + b3)
            y = Ys[:, start:stop]
            loss_sum = -(y * torch.log(A3) + (1 - y) * torch.log(1 - A3)).sum()
            optimizer.zero_grad()
            (loss_sum / (stop - start)).backward()
            optimizer.step()
            total = total + loss_sum.detach()
        if epoch % record_every == 0 or epoch == epochs - 1:
            recorded.append(epoch)
            costs.append(total.item() / m)
    final = [p.detach().cpu().double().numpy() for p in params]
    accuracy = np.mean(predict(final, X_np) == Y_np)
    return _finish([setting], np.array(recorded), np.array(costs)[None, :], flatten(final)[None, :],
                   np.array([accuracy]))
