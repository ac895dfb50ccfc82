"""
The shared vocabulary every capability speaks: errors, value objects, events, codes, IP
addresses. It imports no other package of the service, and neither Flask nor Redis.
"""
