"""
The `/v1/totp` face: routes, request and response schemas, OpenAPI operations.
"""
