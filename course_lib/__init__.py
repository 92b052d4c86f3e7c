"""course_lib: the reference implementations behind the optimization course.

Import the part you need; nothing heavy is loaded by ``import course_lib``::

    from course_lib import optim, schedules, clipping, averages, swa_utils

Every optimizer, scheduler and clipping function mirrors its ``torch.optim`` /
``torch.nn.utils`` namesake (names, arguments, defaults, validation and results),
working on NumPy arrays instead of tensors.
"""

__version__ = "0.1.0"

__all__ = [
    "averages",
    "clipping",
    "optim",
    "schedules",
    "swa_utils",
]
