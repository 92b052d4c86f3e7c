"""Notebook 12, beyond Adam: Adafactor, Lion, Muon and schedule-free AdamW, in three parts:

* ``experiments``: ``transformer_shapes`` and ``state_floats`` (the optimizer state on a model's
  shapes); ``noisy_gradients`` and ``update_rms`` (Adam's and Lion's step sizes);
  ``momentum_like_matrix``, ``singular_values``, ``iterate_polynomial`` and ``polynomial_band`` (what
  Newton–Schulz does to a spectrum); ``compare_on_moons`` (the shared experiment: six optimizers on
  a small network, lr tuned on a grid, several seeds); ``anytime_regression`` (schedule-free AdamW
  against cosine schedules of several lengths); ``verify_against_references``;
* ``explorer``: ``NewtonSchulzExplorer``;
* ``exercises``: ``check_lion_update``, ``check_newton_schulz_step`` and the prediction
  ``check_state_prediction`` (the state of AdamW and Adafactor for other shapes).

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import beyond_adam as lesson
    lesson.state_floats(lesson.transformer_shapes())
    comparison = lesson.compare_on_moons()
    comparison.best["Lion"], comparison.at_best("Lion").mean()
"""

from course_lib.lab.display import verdict  # noqa: F401  (the notebook uses lesson.verdict)
from course_lib.lessons.beyond_adam.experiments import (  # noqa: F401
    anytime_regression, BF16_ROUNDING, compare_on_moons, Comparison, is_hidden_matrix, iterate_polynomial,
    LAYERS, LR_GRIDS, make_optimizer, momentum_like_matrix, noisy_gradients, polynomial_band, singular_values,
    state_floats, train_moons, transformer_shapes, update_rms, verify_against_references,
)
from course_lib.lessons.beyond_adam.explorer import COEFFICIENTS, NewtonSchulzExplorer  # noqa: F401
from course_lib.lessons.beyond_adam.exercises import (  # noqa: F401
    check_lion_update, check_newton_schulz_step, check_state_prediction, LION_EXERCISE, NS_EXERCISE,
    PREDICTION_SHAPES, STATE_QUESTION,
)
