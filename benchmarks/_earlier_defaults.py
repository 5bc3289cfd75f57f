"""The fixed sweep steps that were ``fit``'s defaults before the line search: the pages
measured with them (docs/results_rbm.md, docs/distributed.md) pass them explicitly so
that their commands still reproduce their figures."""

FIXED_LR = {"mps": 0.2, "ttn": 0.05}
