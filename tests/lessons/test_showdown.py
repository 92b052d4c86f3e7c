"""Notebook 07's lesson: the showdown explorer on a finished sweep, the two checkers, and the question
which curve is which optimizer."""

import itertools
import re

import numpy as np
import pytest

from course_lib.lab import nets, plots
from course_lib.lessons import showdown as lesson


@pytest.fixture(scope="module")
def sweep():
    return nets.train([nets.Setting(name, lr) for name in nets.OPTIMIZERS for lr in (1e-3, 0.1, 1.0)], epochs=40)


def test_showdown_explorer_builds_updates_in_place_and_shows_a_mimebundle(sweep):
    from course_lib.lessons import showdown as lesson

    explorer = lesson.ShowdownExplorer(sweep, optimizer="Adam", lr=1e-3)
    image, lines = explorer._image, dict(explorer._lines)
    before = image.get_array().copy()
    explorer.set(optimizer="GD", lr=0.1)
    assert explorer._image is image and explorer._lines == lines
    assert not np.array_equal(before, image.get_array())
    assert lines["GD"].get_linewidth() > lines["Adam"].get_linewidth()
    assert lines["momentum"].get_linestyle() == "--"        # GD shows through where the two coincide
    assert explorer._status.get_text().startswith("GD, lr = 0.1:")
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == "ShowdownExplorer: optimizer=GD, lr=0.1, epochs=40"
    assert bundle["image/png"] and "application/vnd.jupyter.widget-view+json" in bundle
    with pytest.raises(ValueError):
        explorer.set(lr=0.5)


def test_showdown_explorer_says_where_a_run_diverged():
    from course_lib.lessons import showdown as lesson

    sweep = nets.train([nets.Setting(name, lr) for name in nets.OPTIMIZERS for lr in (1e-3, 1e3)], epochs=3,
                       record_every=1)
    explorer = lesson.ShowdownExplorer(sweep, optimizer="GD", lr=1e3)
    assert "diverged at epoch" in explorer._status.get_text()


# --- exercises 1 and 2: write the function ------------------------------------------------------------

def output_layer_backward_solution(A3, Y, A2):
    dZ3 = (A3 - Y) / Y.shape[1]
    return dZ3 @ A2.T, dZ3.sum(axis=1, keepdims=True)


def mini_batches_solution(X, Y, batch_size, permutation):
    Xs, Ys = X[:, permutation], Y[:, permutation]
    return [(Xs[:, start:start + batch_size], Ys[:, start:start + batch_size])
            for start in range(0, X.shape[1], batch_size)]


def test_the_notebook_s_solutions_pass():
    assert str(lesson.check_output_layer_backward(output_layer_backward_solution)).startswith("Correct!")
    assert str(lesson.check_mini_batches(mini_batches_solution)).startswith("Correct!")


def test_output_layer_checker_passes_the_reference_and_names_each_mistake():
    assert lesson.check_output_layer_backward(lesson.output_layer_backward)
    expected = ["1/m", "sign is flipped", "divided by m twice", "sigmoid's derivative", "you used dA3",
                "wrong order", "dW3 is transposed", "db3 lacks the 1/m", "not its mean"]
    for mistake, words in zip(lesson.OUTPUT_LAYER_EXERCISE.mistakes, expected, strict=True):
        result = lesson.check_output_layer_backward(mistake.answer)
        assert not result and words in result.message


def test_the_learner_s_own_forms_of_the_output_layer_pass():
    def loop(A3, Y, A2):
        m = Y.shape[1]
        dW3, db3 = np.zeros((1, A2.shape[0])), np.zeros((1, 1))
        for k in range(m):
            dz = (float(A3[0, k]) - float(Y[0, k])) / m
            dW3[0] += dz * A2[:, k]
            db3[0, 0] += dz
        return dW3, db3

    def chain_rule_the_long_way(A3, Y, A2):
        dA3 = -(Y / A3 - (1 - Y) / (1 - A3)) / Y.shape[1]
        dZ3 = dA3 * A3 * (1 - A3)
        return [np.dot(dZ3, A2.T), np.sum(dZ3, axis=1, keepdims=True)]

    def one_over_m_at_the_end(A3, Y, A2):
        return (A3 - Y) @ A2.T / A3.shape[1], (A3 - Y).sum(axis=1, keepdims=True) / A3.shape[1]

    for answer in (loop, chain_rule_the_long_way, one_over_m_at_the_end):
        assert lesson.check_output_layer_backward(answer).passed


def test_the_output_layer_s_typical_mistakes_get_their_own_message():
    def m_from_the_wrong_axis(A3, Y, A2):     # Y.shape[0] is 1: no 1/m at all
        dZ3 = (A3 - Y) / Y.shape[0]
        return dZ3 @ A2.T, dZ3.sum(axis=1, keepdims=True)

    def transposed(A3, Y, A2):
        dZ3 = (A3 - Y) / Y.shape[1]
        return A2 @ dZ3.T, dZ3.sum(axis=1, keepdims=True)

    def mean_for_db3(A3, Y, A2):
        dZ3 = (A3 - Y) / Y.shape[1]
        return dZ3 @ A2.T, np.mean(dZ3, axis=1, keepdims=True)

    def one_over_m_in_dW3_only(A3, Y, A2):
        return (A3 - Y) @ A2.T / Y.shape[1], np.sum(A3 - Y, axis=1, keepdims=True)

    def gradient_at_the_output(A3, Y, A2):
        dA3 = -(Y / A3 - (1 - Y) / (1 - A3)) / Y.shape[1]
        return dA3 @ A2.T, dA3.sum(axis=1, keepdims=True)

    messages = {m_from_the_wrong_axis: "dZ3 lacks its 1/m (m = Y.shape[1], the number of examples): without it "
                                       "the step grows with the batch size, and the last batch of 44 gets another "
                                       "rate.",
                transposed: "your dW3 is transposed: it has W3's shape, 1 × 2, so dW3 = dZ3·A2ᵀ, not A2·dZ3ᵀ.",
                mean_for_db3: "db3 is the sum of dZ3 over the examples, not its mean: dZ3 = (A3 − Y)/m already "
                              "holds the 1/m.",
                one_over_m_in_dW3_only: "dW3 is right, but db3 lacks the 1/m: compute dZ3 = (A3 − Y)/m once and "
                                        "use it for both.",
                gradient_at_the_output: "you used dA3, the gradient at the sigmoid's output. dZ3 is at its input: "
                                        "dZ3 = dA3·A3(1 − A3) = (A3 − Y)/m."}
    for answer, message in messages.items():
        result = lesson.check_output_layer_backward(answer)
        assert not result.passed and result.message == message


def test_a_db3_of_the_wrong_shape_is_told_the_shape_of_b3():
    def scalar_db3(A3, Y, A2):
        dZ3 = (A3 - Y) / Y.shape[1]
        return dZ3 @ A2.T, np.sum(dZ3)

    assert lesson.check_output_layer_backward(scalar_db3).message == (
        "your db3 is a single number but expected an array of shape (1, 1) (test case 1 of 3).")


def test_mini_batch_checker_passes_the_reference_and_names_each_mistake():
    assert lesson.check_mini_batches(lesson.mini_batches)
    expected = ["dropped the last", "not shuffled", "Y is not", "last batch is empty"]
    for mistake, words in zip(lesson.MINI_BATCH_EXERCISE.mistakes, expected, strict=True):
        result = lesson.check_mini_batches(mistake.answer)
        assert not result and words in result.message
    assert "list of (X_batch, Y_batch)" in lesson.check_mini_batches(lambda X, Y, b, p: X).message


def cut(Xs, Ys, starts, size):
    return [(Xs[:, s:s + size], Ys[:, s:s + size]) for s in starts]


def test_the_learner_s_own_forms_of_the_batches_pass():
    def the_assignment_s_loop(X, Y, batch_size, permutation):
        Xs, Ys, m = X[:, permutation], Y[:, permutation], X.shape[1]
        batches = cut(Xs, Ys, [k * batch_size for k in range(m // batch_size)], batch_size)
        if m % batch_size != 0:
            batches.append((Xs[:, m // batch_size * batch_size:], Ys[:, m // batch_size * batch_size:]))
        return batches

    def lists_of_rows(X, Y, batch_size, permutation):
        return [(list(xb), list(yb)) for xb, yb in mini_batches_solution(X, Y, batch_size, permutation)]

    for answer in (the_assignment_s_loop, lists_of_rows):
        assert lesson.check_mini_batches(answer).passed


def test_an_empty_last_batch_is_a_known_mistake():
    def one_batch_too_many(X, Y, batch_size, permutation):      # range(m // batch_size + 1)
        Xs, Ys = X[:, permutation], Y[:, permutation]
        return cut(Xs, Ys, [k * batch_size for k in range(X.shape[1] // batch_size + 1)], batch_size)

    assert lesson.check_mini_batches(one_batch_too_many).message == (
        "with 12 examples in batches of 4 your last batch is empty: its mean cost would be 0/0. Add a smaller "
        "batch only when something is left.")


def test_batches_that_no_known_mistake_explains_are_described_batch_by_batch():
    def own_permutation(X, Y, batch_size, permutation):
        order = np.random.default_rng(0).permutation(X.shape[1])
        return mini_batches_solution(X, Y, batch_size, order)

    def array_split(X, Y, batch_size, permutation):
        count = -(-X.shape[1] // batch_size)
        return list(zip(np.array_split(X[:, permutation], count, axis=1),
                        np.array_split(Y[:, permutation], count, axis=1)))

    def stops_a_batch_early(X, Y, batch_size, permutation):
        return cut(X[:, permutation], Y[:, permutation], range(0, X.shape[1] - batch_size, batch_size), batch_size)

    def labels_permuted_twice(X, Y, batch_size, permutation):
        Xs, Ys = X[:, permutation], Y[:, permutation][:, permutation]
        return cut(Xs, Ys, range(0, X.shape[1], batch_size), batch_size)

    where = "(test case 1 of 4: 10 examples, batches of 4)."
    messages = {own_permutation: "batch 1 holds other examples: reorder the columns with X[:, permutation] "
                                 "before cutting " + where,
                array_split: "batch 2 holds 3 examples, not 4: every batch but the last has batch_size columns "
                             + where,
                stops_a_batch_early: "you returned 2 batches, not 3: 10 examples in batches of 4 make 2 full "
                                     "batches and one of 2 " + where,
                labels_permuted_twice: "batch 1's labels do not belong to its examples: reorder Y by the same "
                                       "permutation as X " + where}
    for answer, message in messages.items():
        result = lesson.check_mini_batches(answer)
        assert not result.passed and result.message == message
        assert len(str(result).splitlines()) <= 2


def test_batches_of_the_wrong_layout_are_reported_not_raised():
    def transposed(X, Y, batch_size, permutation):
        return [(xb.T, yb.T) for xb, yb in mini_batches_solution(X, Y, batch_size, permutation)]

    def rows_permuted(X, Y, batch_size, permutation):
        return mini_batches_solution(X.T, Y.T, batch_size, permutation)

    def two_lists(X, Y, batch_size, permutation):
        batches = mini_batches_solution(X, Y, batch_size, permutation)
        return [xb for xb, _ in batches], [yb for _, yb in batches]

    assert lesson.check_mini_batches(transposed).message == (
        "batch 1 holds arrays of shapes (4, 2) and (4, 1); keep the examples as columns: X_batch is 2 × k and "
        "Y_batch 1 × k (test case 1 of 4).")
    assert lesson.check_mini_batches(rows_permuted).message.endswith(
        "(test case 1 of 4). The examples are the columns: X[:, permutation], not X[permutation].")
    assert lesson.check_mini_batches(two_lists).message == (
        "your function returned a tuple of 2 items, not all of them (X_batch, Y_batch) pairs; return one pair "
        "per batch (test case 1 of 4).")


def test_a_learner_who_shuffles_in_place_is_told():
    def shuffles_in_place(X, Y, batch_size, permutation):
        X[...], Y[...] = X[:, permutation], Y[:, permutation]
        return [(X[:, s:s + batch_size], Y[:, s:s + batch_size]) for s in range(0, X.shape[1], batch_size)]

    result = lesson.check_mini_batches(shuffles_in_place)
    assert result.message.startswith("your function changed its argument `X` in place")


# --- exercise 3: which curve is which optimizer? ---------------------------------------------------------

RIGHT = {"A": "momentum", "B": "adam", "C": "gd"}


def test_the_mystery_runs_are_the_three_optimizers_at_one_rate_on_the_assignment_s_draw():
    runs = lesson.mystery_runs()
    assert [(s.optimizer, s.lr, s.decay, s.draw) for s in runs.settings] == [
        (name, 0.2, False, nets.COURSERA) for name in lesson.MYSTERY_ORDER]
    assert runs.costs.shape == (3, 1000) and np.isfinite(runs.costs).all()
    assert lesson.mystery_runs() is runs  # computed once: the figure and the check share it


def test_the_mystery_rate_is_not_one_the_explorer_shows():
    """The explorer of the notebook's sweep would otherwise show these very curves, named."""
    sweep_rates = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)   # the notebook's RATES
    assert lesson.MYSTERY_LR not in sweep_rates and min(sweep_rates) < lesson.MYSTERY_LR < max(sweep_rates)


def test_the_features_that_tell_the_curves_apart_hold_on_the_real_runs():
    features = lesson.mystery_features()
    assert features["B"]["early"] < 0.35 < 0.55 < min(features["A"]["early"], features["C"]["early"])
    assert features["A"]["jitter"] < 0.7 * features["C"]["jitter"] < 0.7 * features["B"]["jitter"]


def test_the_notebook_s_answer_passes_and_the_message_gives_the_measured_numbers():
    result = lesson.check_mystery_curves({"A": "Momentum", "B": " Adam", "C": "GD"})   # case and spaces do not matter
    features = lesson.mystery_features()
    assert (round(features["B"]["early"], 1), round(features["A"]["early"], 1), round(features["C"]["early"], 1)) \
        == (0.3, 0.6, 0.6)
    assert result.passed and result.message == (
        "Your Adam falls fastest (cost 0.3 at epoch 10, the others at 0.6): its steps are about lr whatever the "
        "gradient. Your momentum jitters less than your GD late on: it averages the gradients.")
    assert len(str(result).splitlines()) == 2


def test_the_success_message_does_not_give_the_labels_away():
    """After "Run All" the solution's verdict shows right under the question: it names no curve."""
    message = lesson.check_mystery_curves(RIGHT).message
    assert not re.search(r"\b[ABC]\b", message), message
    assert not any(f"{label} is" in message or f"{label}," in message for label in RIGHT)


def test_only_the_right_labelling_passes_and_each_wrong_one_gets_its_explanation():
    for names in itertools.permutations(("gd", "momentum", "adam")):
        answer = dict(zip("ABC", names))
        result = lesson.check_mystery_curves(answer)
        assert result.passed == (answer == RIGHT)
        if answer == RIGHT:
            continue
        their_adam = next(label for label, name in answer.items() if name == "adam")
        if their_adam == "B":   # GD and momentum swapped: C, their momentum, is the jittery one
            assert result.message.startswith("Adam is right; your momentum, C, jitters more than your GD.")
        else:                   # the measured cost of their Adam at epoch 10, far above B's
            early = lesson.mystery_features()[their_adam]["early"]
            assert result.message.startswith(f"your Adam, {their_adam}, is at {early:.1f} by epoch 10.")
            assert "at lr = 0.2, which curve falls fastest" in result.message
        assert "Correct" not in str(result) and len(str(result).splitlines()) <= 2


def test_a_name_used_twice_is_reported():
    result = lesson.check_mystery_curves({"A": "gd", "B": "adam", "C": "gd"})
    assert not result.passed and result.message.startswith('you named two curves "gd"')


def test_the_figure_does_not_give_the_answer_away():
    figure = lesson.mystery_figure()
    start, whole = figure.axes[:2]
    assert [line.get_label() for line in start.get_lines()] == ["A", "B", "C"]
    colors = {line.get_color().lower() for ax in (start, whole) for line in ax.get_lines()}
    assert not colors & {color.lower() for color in plots.OPTIMIZER_COLORS.values()}
    texts = " ".join(text.get_text() for ax in figure.axes for text in [ax.title, ax.xaxis.label, ax.yaxis.label])
    assert not any(name.lower() in texts.lower() for name in nets.OPTIMIZERS)
