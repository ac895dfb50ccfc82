"""
Configuration: `Settings` from `OTP_*` variables, API clients and their policies, API keys.
"""
