"""The course's exercises with their solutions, one module per notebook (``nb00`` … ``nb13``).

Learners reach them as ``from labkit.exercises import nbNN as ex``. This package is installed
apart from labkit (``pip install -e exercises/``) so that a class's students, who install
labkit alone, cannot read the answer key of their assignments.
"""
