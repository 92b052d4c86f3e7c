"""Notebook 13, putting it together: the modern recipe (AdamW, linear warm-up then cosine decay,
clipping, mixed precision) on a small MLP, in one lesson split in three parts:

* ``training``: the schedule, the task and the model, ``train_many`` (many runs at once) and
  ``train_torch`` (the whole recipe in plain PyTorch);
* ``explorer``: ``RecipeExplorer``;
* ``exercises``: ``check_warmup_cosine`` and ``check_warmup_length`` (choose a warm-up length for a
  high peak rate).

Everything is importable from here, as the notebook uses it::

    from course_lib.lessons import recipe as lesson
    runs = lesson.train_many(list(lesson.ABLATIONS.values()), names=list(lesson.ABLATIONS))
"""

from course_lib.lessons.recipe.training import (
    ABLATIONS, active_units, batch_order, dtypes_under_autocast, forward_many, init_flat, LAYERS, make_model,
    make_task, PARAMETERS, Recipe, RECIPE, Runs, SLICES, spread, Task, TorchRun, train_many, train_torch, verdict,
    warmup_constant, warmup_cosine, warmup_cosine_scheduler,
)
from course_lib.lessons.recipe.explorer import RecipeExplorer
from course_lib.lessons.recipe.exercises import (
    check_warmup_cosine, check_warmup_length, WARMUP_COSINE_EXERCISE, warmup_cosine_reference, WARMUP_QUESTION,
    warmup_runs,
)
