"""One module per notebook: its experiments, its explorer and its exercises.

A notebook imports its own lesson (``from course_lib.lessons import saddles as lesson``), besides
the mirror (``course_lib.optim`` …) and the lab (``course_lib.lab``). Lessons import the layers below
them (``course_lib.interactive``, ``course_lib.lab``, the mirror), never each other: what two
lessons share moves down a layer.
"""
