"""
The Twilio Verify v2 face (`/v2`): routes, Twilio's form and JSON shapes, OpenAPI operations.
"""
