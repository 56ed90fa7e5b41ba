"""The foundations lab: small networks trained live, to watch how a model learns.

`datasets2d` and `boundary` are the boundary playground (a small MLP on 2D points); torch is
imported inside their functions, never when this package is imported.
"""
