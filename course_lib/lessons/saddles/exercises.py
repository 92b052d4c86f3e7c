"""Notebook 06's exercises: classify a critical point by its Hessian, write GD's escape time from a
saddle of any negative curvature by the linear model, and predict the escape from the double well's
saddle from a start 10⁹ times closer than the race's."""

from typing import Any, Callable

import numpy as np

from course_lib.interactive.checking import (
    call_on_case, check_answer, check_function, CheckResult, describe_value, Exercise, Mistake, Question,
    UnusableAnswer,
)
from course_lib.lab import runner
from course_lib.lab.landscapes import double_well
from course_lib.lessons.saddles.experiments import classify_critical_point, escape_step

# --------------------------------------------------------------------------------------------------
# The exercises
# --------------------------------------------------------------------------------------------------

CRITICAL_POINT_KINDS = ("minimum", "maximum", "saddle", "degenerate")


def _kind_from_signs(values) -> str:
    """The kind of a critical point whose Hessian eigenvalues have the signs of ``values``."""
    values = np.asarray(values, dtype=float)
    if (values > 0).any() and (values < 0).any():
        return "saddle"
    if (values > 0).all():
        return "minimum"
    if (values < 0).all():
        return "maximum"
    return "degenerate"


def _classify_reference(hessian) -> str:

    return classify_critical_point(hessian)


def _by_determinant(hessian) -> str:
    det = round(float(np.linalg.det(hessian)), 9)
    return "minimum" if det > 0 else "saddle" if det < 0 else "degenerate"


def _by_determinant_and_trace(hessian) -> str:
    det = round(float(np.linalg.det(hessian)), 9)
    if det == 0:
        return "degenerate"
    if det < 0:
        return "saddle"
    return "minimum" if np.trace(hessian) > 0 else "maximum"


def _by_trace(hessian) -> str:
    trace = float(np.trace(hessian))
    return "minimum" if trace > 0 else "maximum" if trace < 0 else "saddle"


def _ignoring_zero_eigenvalues(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    if (eigenvalues >= 0).all():
        return "minimum"
    return "maximum" if (eigenvalues <= 0).all() else "saddle"


def _any_zero_is_degenerate(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    return "degenerate" if (eigenvalues == 0).any() else _kind_from_signs(eigenvalues)


def _zero_as_saddle(hessian) -> str:
    eigenvalues = np.round(np.linalg.eigvalsh(hessian), 9)
    return "minimum" if (eigenvalues > 0).all() else "maximum" if (eigenvalues < 0).all() else "saddle"


_SWAPPED_KINDS = {"minimum": "maximum", "maximum": "minimum", "saddle": "saddle", "degenerate": "degenerate"}

_CRITICAL_POINT_CASES = [{"hessian": np.array(matrix, dtype=float)} for matrix in [
    [[2, 0], [0, 1]],                        # the double well's minima
    [[-1, 0], [0, 1]],                       # its saddle
    [[1, 2], [2, 1]],                        # eigenvalues 3, −1
    [[-3, 0], [0, -1]],
    np.diag([-1, -2, 4]),                    # det > 0, trace > 0, yet a saddle
    np.diag([-1, -2, -3]),                   # det < 0, yet a maximum
    [[1, 0], [0, 0]],                        # a zero eigenvalue, the other positive
    np.diag([2, 0, -1]),                     # a zero eigenvalue beside both signs: still a saddle
    [[2, -1, 0], [-1, 2, -1], [0, -1, 2]],   # eigenvalues 2 − √2, 2, 2 + √2
    [[-1, 2], [2, -1]],                      # eigenvalues 1, −3
    [[0, 0], [0, -2]],
]]


def _kind_index(returned: Any) -> float:
    """What the learner's classification is compared as: its position in CRITICAL_POINT_KINDS."""
    kinds = ", ".join(f"'{kind}'" for kind in CRITICAL_POINT_KINDS)
    if not isinstance(returned, str):
        raise UnusableAnswer(f"your function returned {describe_value(returned)}; return one of the words {kinds}")
    word = returned.strip().lower()
    if word not in CRITICAL_POINT_KINDS:
        raise UnusableAnswer(f"your function returned {returned!r}; return one of the words {kinds}")
    return float(CRITICAL_POINT_KINDS.index(word))


CRITICAL_POINT_EXERCISE = Exercise(
    name="classify",
    cases=_CRITICAL_POINT_CASES,
    expected=lambda hessian: _kind_index(_classify_reference(hessian)),
    run=_kind_index,
    outputs=("the kind",),
    hint=("look at the signs of the Hessian's eigenvalues (np.linalg.eigvalsh);\n"
          "the table in \"The equations\" says what each pattern of signs means."),
    success=("The signs of the eigenvalues decide: all positive, a minimum; all negative, a maximum;\n"
             "both signs, a saddle, zeros or not; a zero with the rest of one sign: the test cannot tell."),
    mistakes=[
        Mistake(_by_determinant,
                "you used the determinant alone, the PRODUCT of the eigenvalues: diag(−3, −1) (a "
                "maximum) and diag(−1, −2, 4) (a saddle) both have det > 0. Look at the eigenvalues' signs."),
        Mistake(_by_determinant_and_trace,
                "you used the 2-D test (the signs of det and trace); it holds for 2 × 2 Hessians only: "
                "diag(−1, −2, 4) has det > 0 and trace > 0 but is a saddle. Use every eigenvalue's sign."),
        Mistake(_by_trace,
                "you used the trace alone, the SUM of the eigenvalues: [[1, 2], [2, 1]] has trace 2 "
                "but eigenvalues 3 and −1, a saddle. Look at every eigenvalue's sign."),
        Mistake(lambda hessian: _kind_from_signs(np.diag(hessian)),
                "you read the signs of the diagonal entries, the curvatures along the axes only: "
                "[[1, 2], [2, 1]] has eigenvalues 3 and −1. Use np.linalg.eigvalsh(hessian)."),
        Mistake(_ignoring_zero_eigenvalues,
                "you ignored zero eigenvalues: with eigenvalues (1, 0) the test cannot decide "
                "(½x² + y⁴ has a minimum, ½x² + y³ has none), so the answer is 'degenerate'."),
        Mistake(_any_zero_is_degenerate,
                "a zero eigenvalue leaves the test undecided only when the other eigenvalues share "
                "one sign: diag(2, 0, −1) curves up and down, a saddle whatever the zero does."),
        Mistake(_zero_as_saddle,
                "with eigenvalues (1, 0) nothing curves down, so it is no saddle: a zero with the rest of one "
                "sign leaves the test undecided, 'degenerate'."),
        Mistake(lambda hessian: _SWAPPED_KINDS[_classify_reference(hessian)],
                "minimum and maximum are swapped: positive eigenvalues mean the function curves "
                "UP in every direction, a minimum."),
        Mistake(lambda hessian: "minimum",
                "your function always answers 'minimum', but a zero gradient does not make a minimum: "
                "the point may be a maximum, a saddle or undecided. Look at the eigenvalues' signs."),
    ],
)


def check_classify_critical_point(fn: Callable) -> CheckResult:
    """Check ``fn(hessian)`` -> 'minimum', 'maximum', 'saddle' or 'degenerate'."""
    result = check_function(fn, CRITICAL_POINT_EXERCISE)
    if result.passed or not result.message.startswith("the kind is wrong"):
        return result
    for case in CRITICAL_POINT_EXERCISE.cases:  # a wrong answer that no known mistake explains
        hessian = case["hessian"]
        answer, right = call_on_case(fn, case), _classify_reference(hessian)
        if _kind_index(answer) != CRITICAL_POINT_KINDS.index(right):
            eigenvalues = ", ".join(f"{value:.3g}" for value in np.linalg.eigvalsh(hessian))
            rows = ", ".join("[" + ", ".join(f"{entry:g}" for entry in row) + "]" for row in hessian)
            named = "degenerate (the test cannot tell)" if right == "degenerate" else f"a {right}"
            return CheckResult(False, f"for the Hessian [{rows}] (eigenvalues {eigenvalues}) your "
                                      f"function returned {answer!r}; it is {named}.")
    return result


def _escape_cases() -> list[dict[str, Any]]:
    """x0, lr and the curvature h < 0 along x; the first and the fourth are the double well's saddle."""
    return [{"x0": x0, "lr": lr, "curvature": h} for x0, lr, h in [
        (1e-6, 0.01, -1.0), (1e-3, 0.05, -2.0), (1e-9, 0.1, -0.5), (0.02, 0.003, -1.0), (-1e-4, 0.02, -4.0),
        (1e-5, 0.2, -3.0)]]


def _linear_escape(x0, lr, curvature):
    """ln(0.5/|x0|) / ln(1 − lr·h): near the saddle a GD step multiplies x by 1 − lr·h (h < 0)."""
    return np.log(0.5 / abs(x0)) / np.log(1 - lr * curvature)


def _in_any_rounding(answer: Callable, explanation: str) -> list[Mistake]:
    """The same mistake as a real number, rounded up and rounded down."""
    return [Mistake(answer, explanation), Mistake(lambda *case: np.ceil(answer(*case)), explanation),
            Mistake(lambda *case: np.floor(answer(*case)), explanation)]


ESCAPE_PREDICTION_EXERCISE = Exercise(
    name="predict_escape_steps",
    cases=_escape_cases(),
    expected=_linear_escape,
    accepted=[lambda x0, lr, h: np.ceil(_linear_escape(x0, lr, h))],
    outputs=("the predicted number of steps",),
    hints={(ValueError, "math domain error"): "x0 is negative here: use |x0|, as either side leaves."},
    hint=("near the saddle the gradient along x is h·x: what does one GD step multiply x by?\n"
          "Then: after how many steps does |x0|·factor^t reach 0.5?"),
    success=("Each GD step multiplies x by 1 − lr·h: |x| reaches 0.5 in ln(0.5/|x0|)/ln(1 − lr·h) steps.\n"
             "On the double well (h = −1) GD takes about 15 steps more at lr = 0.01: the x³ term slows it."),
    mistakes=[
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log1p(lr),
                          "you left out the curvature: a GD step multiplies x by 1 − lr·h, which is 1 + lr "
                          "only for the double well's h = −1."),
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / abs(x0)) / (-lr * h),
                          "you divided by lr·|h|, the rate of the continuous flow dx/dt = −h·x. A GD step "
                          "multiplies x by 1 − lr·h, so divide by ln(1 − lr·h)."),
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / abs(x0)) / lr,
                          "you divided by lr: the curvature is missing, and a GD step multiplies x by "
                          "1 − lr·h, so divide by ln(1 − lr·h)."),
        *_in_any_rounding(lambda x0, lr, h: np.log(1 / abs(x0)) / np.log(1 - lr * h),
                          "you counted the steps until |x| reaches 1; the escape line is |x| = 0.5: "
                          "use ln(0.5/|x0|)."),
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log(1 + lr * h),
                          "your count is negative: you used the factor 1 + lr·h, below 1 for h < 0. A GD "
                          "step is x − lr·h·x: the factor is 1 − lr·h = 1 + lr·|h|."),
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / abs(x0)) / -np.log(1 + lr * h),
                          "you used the factor 1 + lr·h = 1 − lr·|h|, which shrinks x. A GD step is "
                          "x − lr·h·x: the factor is 1 − lr·h = 1 + lr·|h|."),
        *_in_any_rounding(lambda x0, lr, h: np.log10(0.5 / abs(x0)) / np.log(1 - lr * h),
                          "you mixed logarithms: log10 on top, ln below. Any base works if both "
                          "are the same: ln(0.5/|x0|)/ln(1 − lr·h)."),
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / abs(x0)) / np.log10(1 - lr * h),
                          "you mixed logarithms: ln on top, log10 below. Any base works if both "
                          "are the same: ln(0.5/|x0|)/ln(1 − lr·h)."),
        Mistake(lambda x0, lr, h: np.log(1 - lr * h) / np.log(0.5 / abs(x0)),
                "your ratio is upside down: the count is ln(0.5/|x0|)/ln(1 − lr·h), many steps for a "
                "small x0."),
        *_in_any_rounding(lambda x0, lr, h: (0.5 - abs(x0)) / (-lr * h * abs(x0)),
                          "you let x grow by the same amount each step; it grows by −lr·h·x, in "
                          "proportion to itself, so geometrically: |x0|·(1 − lr·h)^t."),
        *_in_any_rounding(lambda x0, lr, h: np.log(0.5 / x0) / np.log(1 - lr * h),
                          "your answer is NaN for a negative x0: the saddle is left on either side, "
                          "so use |x0|: ln(0.5/|x0|)/ln(1 − lr·h)."),
        Mistake(lambda x0, lr, h: np.floor(_linear_escape(x0, lr, h)),
                "you rounded down: after that many steps |x| is still below 0.5. Round up "
                "(or return the real number)."),
    ],
)


def check_escape_prediction(fn: Callable) -> CheckResult:
    """Check ``fn(x0, lr, curvature)`` -> GD's steps from x0 until |x| ≥ 0.5 near a saddle of curvature
    h < 0 along x, by the linear model: ln(0.5/|x0|)/ln(1 − lr·h) (or that rounded up)."""
    return check_function(fn, ESCAPE_PREDICTION_EXERCISE)


# --------------------------------------------------------------------------------------------------
# Predict, then run: the escape from a start 10⁹ times closer, beyond the notebook's sweep
# --------------------------------------------------------------------------------------------------

CLOSER_LR = 0.01
"""The notebook's learning rate: the question asks about GD at lr = 0.01."""

FAR_X0, CLOSE_X0 = 1e-6, 1e-15
"""The start whose escape step the learner has seen (the race's), and the start 10⁹ times closer
they predict for: beyond the notebook's sweep (x0 = 1e-1 … 1e-12), so no figure shows its count."""

CLOSER_TOLERANCE = 0.03
"""A prediction within 3 % of the measured escape step is right."""

CLOSER_STEPS = 5000
"""Steps of the judge's runs: enough for GD at lr ≥ 0.01 to leave from 1e-15 (3416 steps at 0.01)."""


def closer_escape_steps(lr: float = CLOSER_LR) -> tuple[int | None, int | None]:
    """GD's escape steps on the double well from (1e-6, 1) and from (1e-15, 1), in one batched run."""
    result = runner.run(double_well(), runner.named_optimizer("GD", lr), start=[(FAR_X0, 1.0), (CLOSE_X0, 1.0)],
                        steps=CLOSER_STEPS)
    return escape_step(result.path)


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= CLOSER_TOLERANCE * abs(target)


def judge_closer_escape(steps: float, lr: float = CLOSER_LR) -> CheckResult:
    """Run GD from 1e-6 and from 1e-15 and compare the predicted escape step from 1e-15 with the
    measured one: right within 3 % (that message names no step count); 10⁹ × the count from 1e-6,
    the same count, fewer steps, the extra steps alone and mixed logarithms are named."""
    far, close = closer_escape_steps(lr)
    if far is None or close is None:
        raise ValueError(f"GD at lr = {lr:g} does not escape within {CLOSER_STEPS} steps")
    steps = round(steps)  # a whole number of steps: the one the message shows is the one judged
    said = f"{steps}" if abs(steps) < 1e7 else f"{steps:.3g}"
    ran = f"GD (lr = {lr:g}) escaped from x0 = 1e-15 at step {close}, from 1e-6 at {far}; you said {said}.\n"
    ratio = FAR_X0 / CLOSE_X0
    within = f"{CLOSER_TOLERANCE * 100:g} %"
    if _near(steps, close):
        # no step counts: after "Run All" this shows under the question, where the measured step (or
        # the steps added) would give the answer away; the learner's answer is "your prediction"
        return CheckResult(True, f"Your prediction is within {within} of the step at which GD (lr = {lr:g}) escaped "
                                 f"from x0 = 1e-15.\nEach step multiplies x by 1 + lr: 10⁹ times closer adds "
                                 f"ln(10⁹)/ln(1 + lr) steps to those from 1e-6.")
    if _near(steps, ratio * far):
        explanation = "10⁹ × as many, as if the time grew like 1/x0; but x grows geometrically, by a factor 1 + lr a step."
    elif steps > 3 * close:
        explanation = "Far too many: x grows geometrically, by a factor 1 + lr a step, so the time grows like ln(1/x0)."
    elif _near(steps, far):
        explanation = "The same count? From 10⁹ times closer x must grow 10⁹ times more, by a factor 1 + lr a step."
    elif steps < far:
        explanation = ("Fewer steps? Closer to the saddle the gradient (the push off it) is smaller: "
                       "leaving takes longer.")
    elif _near(steps, close - far):
        explanation = f"That is about the extra steps alone: add them to the {far} steps from 1e-6."
    elif _near(steps, far + np.log10(ratio) / np.log1p(lr)) or _near(steps, far + np.log(ratio) / np.log10(1 + lr)):
        explanation = "You mixed logarithms, log10 and ln: any base works if it is the same on top and below."
    else:
        explanation = (("Too few" if steps < close else "Too many") + f", by more than {within}. Each step multiplies x by "
                       "1 + lr: how many make it 10⁹ times larger?")
    return CheckResult(False, ran + explanation)


CLOSER_START_QUESTION = Question(
    name="steps_from_1e15",
    fields=("steps",),
    hint=("replace ... with your prediction, a number of steps.\n"
          "Near the saddle, what does one GD step do to |x|? (See \"Near the saddle\".)"),
    judge=judge_closer_escape,
)


def check_escape_from_closer(answer) -> CheckResult:
    """Check a prediction of GD's escape step from (1e-15, 1) at lr = 0.01, knowing the one from
    (1e-6, 1): both runs are made, and a prediction within 3 % of the measured step is right."""
    return check_answer(answer, CLOSER_START_QUESTION)
