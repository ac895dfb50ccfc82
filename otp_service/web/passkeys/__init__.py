"""The ``/v1/passkeys`` face: routes, schemas and OpenAPI operations of WebAuthn ceremonies."""
