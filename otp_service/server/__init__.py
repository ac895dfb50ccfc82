"""
The gunicorn glue: the production configuration, its defaults, and its logger.
"""
