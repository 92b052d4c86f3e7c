"""Notebook 08, AdamW: L2 regularisation against decoupled decay, torch's λ against the paper's,
and the lr × λ grid of Loshchilov & Hutter (2019) on a small scale-invariant model, in one lesson
split in three parts:

* ``experiments``: the teacher data and the model, the five ways to decay, ``train`` and the grid
  (every cell at once, along a leading "run" axis), the paper's Algorithm 2, the grid's heatmaps;
* ``explorer``: ``WeightDecayExplorer``;
* ``exercises``: ``check_adamw_step`` (step t of torch's AdamW), ``check_retuned_weight_decay`` (the
  weight_decay that keeps the decay per step when lr changes) and ``check_adamw_pair`` (choose an
  lr × λ pair in AdamW's good region; the check trains the cell over the grid's seeds).

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import adamw as lesson
    data = lesson.teacher_data()                        # 4000 train / 5000 test points, d = 20
    grids = lesson.decay_grid(data, LRS, DECAYS)        # {form: test error, shape (λ, lr)}
"""

from course_lib.lessons.adamw.experiments import (
    decay_grid, decay_grids, FLAT, FORMS, gradient, grid_forms, INVARIANTS, loss, mean_spread_along,
    paper_adamw_step_, paper_weight_decay, plot_decay_grids, SCALE, spread_along, teacher_data, TeacherData,
    test_error, torch_weight_decay, train, Training, training_plan,
)
from course_lib.lessons.adamw.explorer import WeightDecayExplorer
from course_lib.lessons.adamw.exercises import (
    ADAMW_EXERCISE, ADAMW_PAIR_QUESTION, check_adamw_pair, check_adamw_step, check_retuned_weight_decay,
    GOOD_MARGIN, GRID_SEEDS, grid_data, RETUNED_WEIGHT_DECAY_EXERCISE, retuned_weight_decay_reference,
    seed_errors, SeedRuns, torch_adamw_step, train_seeds,
)
