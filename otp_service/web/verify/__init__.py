"""
The `/v1/verifications` face: routes, request and response schemas, OpenAPI operations.
"""
