"""What makes a notebook interactive, shared by every lesson: the canvas that redraws only what
moved (``canvas``), the explorers' base class and controls (``explorer``), and the machinery of
the exercise checks (``checking``). It imports the lab and the mirror, never a lesson.
"""
