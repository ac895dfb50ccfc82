"""The ``/v1/fraud`` face: the pumping guard's active blocks, read and cleared by admins."""
