"""The shared equipment of the lessons: loss landscapes and the runner that walks optimizers over
them, data sets, the noisy regression of notebooks 05 and 11, the small networks, figures, the torch
bridge and device detection, mixed precision's plan, and display helpers. It imports the mirror
(``course_lib.optim`` …) and nothing above it.
"""
