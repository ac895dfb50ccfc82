"""
The ``/v1/locks`` face (scope ``admin``): read and clear a subject's or a destination's lockout.
"""
