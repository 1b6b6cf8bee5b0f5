"""Training small decoders: the model (model.py), corpora (data.py) and the loop (loop.py).

model.py and loop.py need PyTorch (the optional ``train`` extra); data.py needs only numpy, and
this package's ``__init__`` imports nothing, so torch-free code (the sweep planner, the run store)
can use :mod:`scaling.train.data` without pulling torch in. Keep it that way.
"""
