"""Exercise code for the dense-prediction assignment: upsampling layers, segmentation, autoencoders.

Students fill the solution regions; `python -m exercise_code.checks` runs the public checks.
"""

__version__ = "0.1.0"
