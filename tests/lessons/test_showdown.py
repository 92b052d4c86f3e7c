"""Notebook 07's lesson: the showdown explorer on a finished sweep, the two checkers, and the question
which curve is which optimizer."""

import itertools

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
    expected = ["1/m", "sign is flipped", "divided by m twice", "sigmoid's derivative", "wrong order"]
    for mistake, words in zip(lesson.OUTPUT_LAYER_EXERCISE.mistakes, expected, strict=True):
        result = lesson.check_output_layer_backward(mistake.answer)
        assert not result and words in result.message


def test_mini_batch_checker_passes_the_reference_and_names_each_mistake():
    assert lesson.check_mini_batches(lesson.mini_batches)
    expected = ["dropped the last", "not shuffled", "Y is not"]
    for mistake, words in zip(lesson.MINI_BATCH_EXERCISE.mistakes, expected, strict=True):
        result = lesson.check_mini_batches(mistake.answer)
        assert not result and words in result.message
    assert "list of (X_batch, Y_batch)" in lesson.check_mini_batches(lambda X, Y, b, p: X).message


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
        (name, 0.3, False, nets.COURSERA) for name in lesson.MYSTERY_ORDER]
    assert runs.costs.shape == (3, 1000) and np.isfinite(runs.costs).all()
    assert lesson.mystery_runs() is runs  # computed once: the figure and the check share it


def test_the_features_that_tell_the_curves_apart_hold_on_the_real_runs():
    features = lesson.mystery_features()
    assert features["B"]["early"] < 0.35 < 0.55 < min(features["A"]["early"], features["C"]["early"])
    assert features["A"]["jitter"] < 0.7 * features["C"]["jitter"] < 0.7 * features["B"]["jitter"]


def test_the_notebook_s_answer_passes_and_the_message_gives_the_measured_numbers():
    result = lesson.check_mystery_curves({"A": "Momentum", "B": " Adam", "C": "GD"})   # case and spaces do not matter
    features = lesson.mystery_features()
    assert result.passed
    assert f"epoch 10: B {features['B']['early']:.1f}, A {features['A']['early']:.1f}" in result.message
    assert "A, momentum, jitters less than C, GD" in result.message
    assert len(str(result).splitlines()) == 2


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
            assert "falls fastest" in result.message
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
