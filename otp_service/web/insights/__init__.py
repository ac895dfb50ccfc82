"""
The ``/v1/insights`` face: conversion figures of the caller's client (scope
``verifications:check``) or of every client (scope ``admin``).
"""
