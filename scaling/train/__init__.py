"""Training small decoders: the model (model.py, with hyena.py and sparse.py), the data and the loop.

Data: corpus.py (corpus names -> documents, the held-out split), fetch.py and extract.py (the
Debian corpora: download, and the text of debian-docs-large, via doctext/), tokens.py
(tokenizers, the token cache: prepare) and data.py (the batches of each step). The loop: loop.py
(train one run), schedule.py (learning rate, evaluation steps), devices.py (device, autocast,
peak FLOP/s), checkpoint.py (checkpoints, the trained model), branches.py (WSD branches).

model.py, loop.py, devices.py, checkpoint.py and branches.py need PyTorch (the optional ``train``
extra); the data modules and schedule.py need only numpy, and this package's ``__init__`` imports
nothing, so torch-free code (the sweep planner, the run store) can use :mod:`scaling.train.tokens`
and :mod:`scaling.train.data` without pulling torch in. Keep it that way.
"""
